"""The result zip, ``result_dir/result.zip``: ``metadata.json`` plus the run's log.

The zip is always written atomically (temporary file, then rename), so whatever
stops a run leaves the last written state readable (``Experiment_handler.result_store``
decides when it is rewritten). Reading never extracts anything: only the
``metadata.json`` member is parsed. ``metadata.json`` is compact, strict JSON: an
undefined value (NaN, e.g. a diversity over one user) is written as ``null``.

What one result may cost to read is bounded: ``metadata.json`` holds at most
``MAX_SAMPLES`` samples and is at most ``MAX_METADATA_BYTES``; it is read in chunks,
and a member more than half whitespace (beyond ``PADDING_ALLOWANCE``) is refused as
soon as that shows, before anything is parsed. Reading an accepted member takes
about twice its size in text plus the parsed objects.
"""

import codecs
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
#: The most samples one result holds (``run_experiment`` refuses larger requests up front).
MAX_SAMPLES = 10_000
#: The largest metadata.json accepted: MAX_SAMPLES samples of the largest kind fit in it.
MAX_METADATA_BYTES = 320 * 2**20
#: Whitespace a metadata.json may hold beyond half of its size (indented files of older versions are ~20%).
PADDING_ALLOWANCE = 2**20
_READ_CHUNK = 2**20
_WHITESPACE = (b" ", b"\n", b"\r", b"\t")


class ResultZipError(ValueError):
    """A result zip that cannot be read or does not follow the contract."""


def write_result_zip(path, metadata: dict, log_text: str = "", sample_texts: list[str] | None = None) -> None:
    """Write ``metadata`` (and the log) to the zip at ``path``, atomically.

    ``sample_texts``, when given, are the samples already serialized (``metadata_json(sample)``
    each, in order): they stand for ``metadata["samples"]``, so a long search serializes each
    sample once instead of at every rewrite.
    """
    if metadata.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {metadata.get('status')!r}")
    if sample_texts is None:
        text = metadata_json(metadata)
    else:
        head = metadata_json({key: value for key, value in metadata.items() if key != "samples"})
        text = head[:-1] + ',"samples":[' + ",".join(sample_texts) + "]}"
    if len(text) > MAX_METADATA_BYTES:  # ASCII: one byte per character
        raise ValueError(f"{METADATA_MEMBER} would be {len(text)} bytes, more than a reader accepts")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, text)
        archive.writestr(LOG_MEMBER, log_text)
    write_bytes_atomic(path, buffer.getvalue())


def metadata_json(metadata: dict) -> str:
    """``metadata`` as compact, strict JSON (NaN and infinities as ``null``)."""
    try:
        return json.dumps(metadata, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: copy with nulls (slower, so only then)
        return json.dumps(_finite_or_null(metadata), separators=(",", ":"), allow_nan=False)


def _finite_or_null(value):
    """A copy of ``value`` with NaN and infinities replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    return value


def _read_member_text(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """The member's text, read in chunks; ``ResultZipError`` as soon as it is too large or padded."""
    if info.file_size > MAX_METADATA_BYTES:
        raise ResultZipError(f"{path}: {METADATA_MEMBER} is implausibly large ({info.file_size} bytes, "
                             f"at most {MAX_METADATA_BYTES})")
    decoder = codecs.getincrementaldecoder("utf-8")()
    pieces, size, whitespace = [], 0, 0
    with archive.open(info) as member:
        while chunk := member.read(_READ_CHUNK):
            size += len(chunk)
            whitespace += sum(chunk.count(byte) for byte in _WHITESPACE)
            if size > MAX_METADATA_BYTES:
                raise ResultZipError(f"{path}: {METADATA_MEMBER} is implausibly large (over {MAX_METADATA_BYTES} bytes)")
            if whitespace > PADDING_ALLOWANCE + size / 2:
                raise ResultZipError(f"{path}: {METADATA_MEMBER} is padded ({whitespace} of its first {size} bytes "
                                     "are whitespace)")
            pieces.append(decoder.decode(chunk))
    pieces.append(decoder.decode(b"", final=True))
    return "".join(pieces)


def read_result_metadata(path) -> dict:
    """``metadata.json`` of a result zip; ``ResultZipError`` when absent, damaged, too costly or of another schema."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(METADATA_MEMBER)
            except KeyError:
                raise ResultZipError(f"{path}: no {METADATA_MEMBER} inside") from None
            text = _read_member_text(path, archive, info)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ResultZipError(f"{path}: not a readable zip ({error})") from None
    except UnicodeDecodeError as error:
        raise ResultZipError(f"{path}: {METADATA_MEMBER} is not UTF-8 ({error})") from None
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultZipError(f"{path}: {METADATA_MEMBER} is not valid JSON ({error})") from None
    except RecursionError:
        raise ResultZipError(f"{path}: {METADATA_MEMBER} is nested too deeply") from None
    if not isinstance(metadata, dict) or metadata.get("schema_version") != SCHEMA_VERSION:
        found = metadata.get("schema_version") if isinstance(metadata, dict) else None
        raise ResultZipError(f"{path}: schema_version {found!r}, expected {SCHEMA_VERSION}")
    return metadata
