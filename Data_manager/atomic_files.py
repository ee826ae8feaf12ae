"""Write files and folders so that a crash never leaves a half-written one in place.

Everything is first written to a temporary sibling, then renamed into place
(``os.replace`` is atomic within one file system). Temporary files and folders
are created private (0600/0700) and given the permissions the umask gives any new
file (0644/0755 under the usual 022) before the rename, so shared folders stay readable.
"""

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def current_umask() -> int:
    """This process's umask (read from /proc where it can, without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json_atomic(path, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON (stable bytes for equal content)."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


@contextmanager
def atomic_folder(final_path):
    """Yield a temporary sibling folder to fill; on success it replaces ``final_path``.

    On any exception the temporary folder is removed and ``final_path`` is untouched.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{final_path.name}.", suffix=".tmp", dir=final_path.parent))
    try:
        temp.chmod(0o777 & ~current_umask())
        yield temp
        if final_path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final_path.name}.", suffix=".old", dir=final_path.parent))
            os.replace(final_path, old / "previous")
            os.replace(temp, final_path)
            shutil.rmtree(old)
        else:
            os.replace(temp, final_path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
