"""Check downloaded files and read the files inside archives without extracting them.

Downloaded archives are untrusted. Members are streamed straight out of the archive
(``zipfile.open``, ``tarfile.extractfile``): nothing is ever extracted to disk, so no
member name can write outside a folder. :func:`check_integrity` still refuses an
archive holding an unsafe member (absolute path, ``..``, link, device) and reads every
member to the end, so a truncated or corrupt download is caught before parsing.

The kind of a file is told by its name: ``.zip``, ``.tar.gz``/``.tgz``, ``.tar.bz2``,
``.gz``, ``.bz2``; anything else is a plain file.
"""

import bz2
import gzip
import stat
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

from Data_manager.archive_member_safety import unsafe_member_reason

_DRAIN_BYTES = 1 << 20
_HTML_SNIFF_BYTES = 512
_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, ValueError)


class ArchiveError(ValueError):
    """A downloaded file is empty, corrupt, unsafe or lacks the expected member."""


def archive_kind(path) -> str:
    """``zip``, ``tar:gz``, ``tar:bz2``, ``gz``, ``bz2`` or ``plain``, from the file name."""
    name = Path(path).name.lower()
    for suffix, kind in (
        (".zip", "zip"), (".tar.gz", "tar:gz"), (".tgz", "tar:gz"), (".tar.bz2", "tar:bz2"),
        (".gz", "gz"), (".bz2", "bz2"),
    ):
        if name.endswith(suffix):
            return kind
    return "plain"


def _drain(stream) -> None:
    while stream.read(_DRAIN_BYTES):
        pass


def _check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            reason = unsafe_member_reason(info.filename, is_symlink=stat.S_ISLNK(info.external_attr >> 16))
            if reason:
                raise ArchiveError(f"{path.name}: {reason}")
        bad = archive.testzip()
        if bad is not None:
            raise ArchiveError(f"{path.name}: corrupt member {bad!r} (CRC mismatch)")


def _check_tar(path: Path, compression: str) -> None:
    with tarfile.open(path, f"r:{compression}") as archive:
        for member in archive:
            reason = unsafe_member_reason(member.name)
            if reason:
                raise ArchiveError(f"{path.name}: {reason}")
            if not (member.isfile() or member.isdir()):
                raise ArchiveError(f"{path.name}: member {member.name!r} is a link or special file")
            if member.isfile():
                _drain(archive.extractfile(member))


def _looks_like_html(path: Path) -> bool:
    """Whether the file starts (after blanks) like a web page: a login wall or error page saved under a data file's name."""
    with open(path, "rb") as handle:
        start = handle.read(_HTML_SNIFF_BYTES).lstrip().removeprefix(b"\xef\xbb\xbf").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        start.startswith(b"<?xml") and b"<html" in start
    )


def check_integrity(path) -> None:
    """Raise ``ArchiveError`` unless ``path`` is a non-empty, complete and safe file of its kind (and not a web page)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise ArchiveError(f"{path.name}: empty file")
    kind = archive_kind(path)
    if _looks_like_html(path):
        what = "data file" if kind == "plain" else f"{kind} file"
        raise ArchiveError(
            f"{path.name}: an HTML page (a login wall, captive portal or error page?), not a {what}"
        )
    try:
        if kind == "zip":
            _check_zip(path)
        elif kind.startswith("tar:"):
            _check_tar(path, kind[4:])
        elif kind in ("gz", "bz2"):
            with (gzip.open if kind == "gz" else bz2.open)(path, "rb") as stream:
                _drain(stream)
    except ArchiveError:
        raise
    except _CORRUPT as error:
        raise ArchiveError(f"{path.name}: corrupt or truncated {kind} file ({error or type(error).__name__})") from None


def _resolve(path: Path, names: list[str], member: str) -> str:
    """``member`` itself, or the one member whose path ends with ``/member``."""
    if member in names:
        return member
    matches = [name for name in names if name.endswith(f"/{member}")]
    if len(matches) != 1:
        found = "several members" if matches else "no member"
        raise ArchiveError(f"{path.name}: {found} named {member!r}")
    return matches[0]


@contextmanager
def open_member(path, member: str | None = None):
    """Yield a binary stream of ``member`` of the archive ``path`` (the file itself when not an archive).

    ``member`` is a path inside the archive; a unique member ending with ``/member`` is
    accepted too (archives repacked with an extra top folder still work).
    """
    path = Path(path)
    kind = archive_kind(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive, archive.open(_resolve(path, archive.namelist(), member)) as stream:
            yield stream
    elif kind.startswith("tar:"):
        with tarfile.open(path, f"r:{kind[4:]}") as archive:
            info = archive.getmember(_resolve(path, archive.getnames(), member))
            if not info.isfile():
                raise ArchiveError(f"{path.name}: member {member!r} is not a regular file")
            with archive.extractfile(info) as stream:
                yield stream
    elif member is not None:
        raise ArchiveError(f"{path.name}: not an archive, cannot hold {member!r}")
    else:
        with (gzip.open if kind == "gz" else bz2.open if kind == "bz2" else open)(path, "rb") as stream:
            yield stream
