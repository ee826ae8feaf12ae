"""Download source files: streaming, retries with back-off, resume, checksums, atomic placement.

A :class:`Source` is one file a dataset is built from. :func:`download` streams it
into ``<folder>/.partial/<filename>`` with a tqdm progress bar, resumes a partial file
with an HTTP ``Range`` request when the server supports it (and starts over when it
does not), retries transient failures (connection errors, time-outs, HTTP 408/429/5xx)
with exponential back-off, checks the size and the sha256 when they are known, runs an
optional ``verify`` callback (the archive integrity check), and only then renames the
file to ``<folder>/<filename>``: a file under its final name is always complete.

Mirrors: when the environment variable ``RECZILLA_DATA_MIRROR`` holds a base URL,
every source is fetched from ``<base>/<filename>`` instead of its own URL (so a mirror
is one folder holding every file under its registry file name).
"""

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from Data_manager.atomic_files import file_sha256
from Data_manager.version import __version__

MIRROR_ENV = "RECZILLA_DATA_MIRROR"
USER_AGENT = f"reczilla-metadata/{__version__} (+https://github.com/naszilla/reczilla)"
CHUNK_BYTES = 1 << 20
PARTIAL_FOLDER = ".partial"
TRANSIENT_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(RuntimeError):
    """A source file could not be obtained; the message says why (and what to do)."""


class _TransientError(Exception):
    """A failure worth retrying (the connection, not the request, went wrong)."""


@dataclass(frozen=True)
class Source:
    """One source file: where it lives, its local file name and what it must hash to.

    ``url`` may be ``None`` for files that can only be obtained by hand; ``manual``
    then says where to get the file (it is also shown when every URL fails).
    """

    filename: str
    url: str | None
    sha256: str | None = None
    size: int | None = None
    mirrors: tuple[str, ...] = ()
    manual: str | None = None

    def __post_init__(self):
        if not self.filename or Path(self.filename).name != self.filename or self.filename.startswith("."):
            raise ValueError(f"source file name {self.filename!r} must be a plain file name")

    def urls(self) -> list[str]:
        """The URLs to try, in order: the mirror alone when ``RECZILLA_DATA_MIRROR`` is set."""
        base = os.environ.get(MIRROR_ENV)
        if base:
            return [f"{base.rstrip('/')}/{urllib.parse.quote(self.filename)}"]
        return [url for url in (self.url, *self.mirrors) if url]


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect ({error.reason})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _open(url: str, part: Path, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            part.unlink()  # the partial file is not a prefix of this file: start over
            raise _TransientError(_describe(error)) from None
        if error.code in TRANSIENT_HTTP_CODES:
            raise _TransientError(_describe(error)) from None
        raise DownloadError(f"{url}: {_describe(error)}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise _TransientError(_describe(error)) from None


def _fetch_once(url: str, part: Path, timeout: float, progress: bool | None) -> None:
    """Fetch ``url`` into ``part``, continuing a partial file when the server allows it."""
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, part, offset, timeout)
    with response:
        resumed = offset > 0 and response.status == 206 and (
            response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        )
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with open(part, "ab" if resumed else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=part.name,
            disable={True: False, False: True, None: None}[progress], leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    raise _TransientError(f"connection lost after {received} bytes ({_describe(error)})") from None
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise _TransientError(f"connection dropped after {received} of {total} bytes")


def _check(source: Source, part: Path, verify) -> None:
    """Raise ``DownloadError`` (checksum, size) or ``verify``'s ``ValueError`` for a bad complete file."""
    problems = []
    if source.sha256 is not None:
        actual = file_sha256(part)
        if actual != source.sha256:
            problems.append(f"checksum mismatch (sha256 {actual}, expected {source.sha256})")
    size = part.stat().st_size
    if source.size is not None and size != source.size:
        problems.append(f"size mismatch ({size} bytes, expected {source.size})")
    if problems:
        raise DownloadError(f"{source.filename}: {', '.join(problems)}")
    if verify is not None:
        verify(part)


def download(
    source: Source,
    folder,
    *,
    retries: int = 3,
    backoff: float = 2.0,
    timeout: float = 60.0,
    progress: bool | None = None,
    verify=None,
) -> Path:
    """Download ``source`` to ``folder/<filename>`` unless it is already there; returns the path.

    Each URL gets ``1 + retries`` attempts, waiting ``backoff * 2**k`` seconds before the
    k-th retry; a partial file is resumed across attempts and across runs. ``verify(path)``
    (e.g. an archive integrity check) runs on the complete file before it is renamed into
    place and raises ``ValueError`` for a bad file; a bad file is removed and the next URL
    is tried. On failure the partial file is kept only when it may be resumed (the
    connection dropped), and ``DownloadError`` says what happened with each URL, plus the
    manual instructions when the source has them.
    """
    folder = Path(folder)
    final = folder / source.filename
    if final.exists():
        return final
    part = folder / PARTIAL_FOLDER / source.filename
    part.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url_number, url in enumerate(source.urls()):
        if url_number > 0:
            part.unlink(missing_ok=True)  # never resume one server's bytes from another
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            try:
                _fetch_once(url, part, timeout, progress)
            except _TransientError as error:
                failure = f"{url}: {error}"
                continue
            except DownloadError as error:
                part.unlink(missing_ok=True)
                failure = str(error)
                break
            try:
                _check(source, part, verify)
            except (DownloadError, ValueError) as error:
                part.unlink(missing_ok=True)
                failure = f"{url}: {error}"
                break
            os.replace(part, final)
            try:
                part.parent.rmdir()
            except OSError:  # other partial downloads are still there
                pass
            return final
        failures.append(failure)
    if not failures:
        failures.append(f"{source.filename}: no URL to download it from")
    message = "; ".join(failures)
    if source.manual:
        message += f". {source.manual}"
    raise DownloadError(message)


def check_link(url: str, timeout: float = 30.0) -> str | None:
    """Ask ``url`` for its headers (HEAD, then a one-byte GET if HEAD is refused); ``None`` when alive, else why not."""
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **headers})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                return None
        except urllib.error.HTTPError as error:
            reason = _describe(error)
            if error.code not in (403, 405, 501):
                return reason
        except (urllib.error.URLError, OSError) as error:
            return _describe(error)
    return reason
