"""The result zip, ``result_dir/result.zip``: ``metadata.json`` plus the run's log.

The zip is rewritten atomically after every sample (temporary file, then
rename), so whatever stops a run leaves the last finished state readable.
Reading never extracts anything: only the ``metadata.json`` member is parsed.
``metadata.json`` is strict JSON: an undefined value (NaN, e.g. a diversity over
one user) is written as ``null``.
"""

import io
import json
import math
import zipfile
from pathlib import Path

from Data_manager.atomic_files import write_bytes_atomic

SCHEMA_VERSION = 1
METADATA_MEMBER = "metadata.json"
LOG_MEMBER = "experiment.log"
STATUSES = ("complete", "time_limit", "error")
#: The largest metadata.json accepted when reading (guards against zip bombs).
MAX_METADATA_BYTES = 256 * 2**20


class ResultZipError(ValueError):
    """A result zip that cannot be read or does not follow the contract."""


def write_result_zip(path, metadata: dict, log_text: str = "") -> None:
    """Write ``metadata`` (and the log) to the zip at ``path``, atomically."""
    if metadata.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {metadata.get('status')!r}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(_finite_or_null(metadata), indent=1,
                                                     allow_nan=False))
        archive.writestr(LOG_MEMBER, log_text)
    write_bytes_atomic(path, buffer.getvalue())


def _finite_or_null(value):
    """A copy of ``value`` with NaN and infinities replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    return value


def read_result_metadata(path) -> dict:
    """``metadata.json`` of a result zip; ``ResultZipError`` when absent, damaged or of another schema."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(METADATA_MEMBER)
            except KeyError:
                raise ResultZipError(f"{path}: no {METADATA_MEMBER} inside") from None
            if info.file_size > MAX_METADATA_BYTES:
                raise ResultZipError(f"{path}: {METADATA_MEMBER} is implausibly large ({info.file_size} bytes)")
            raw = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ResultZipError(f"{path}: not a readable zip ({error})") from None
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultZipError(f"{path}: {METADATA_MEMBER} is not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("schema_version") != SCHEMA_VERSION:
        found = metadata.get("schema_version") if isinstance(metadata, dict) else None
        raise ResultZipError(f"{path}: schema_version {found!r}, expected {SCHEMA_VERSION}")
    return metadata
