"""What every reader shares: line parsing with exact error positions, the interaction builder, and :class:`Reader`.

Rules common to all readers (the reference's, unless said otherwise):

- ids are kept as the strings of the source file; indices follow the order in which
  ids first appear (or the order of a catalogue file, e.g. MovieLens' movies file);
- duplicate (user, item) pairs follow the reader's policy: ``keep_latest`` (largest
  timestamp; the later line on ties), ``keep_max`` (largest value) or ``error``
  (the reference asserted there were none);
- after that, interactions whose value is 0 are dropped (the reference's
  ``eliminate_zeros``: e.g. BookCrossing's implicit 0 ratings, Food.com's unrated
  reviews), but their user and item keep their index, as in the reference;
- a malformed line stops the reader with ``ParseError`` naming the file and the line.
"""

import csv
import datetime as dt
import gzip
import math
import os
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from Data_manager.atomic_files import file_sha256
from Data_manager.cli_errors import one_line
from Data_manager.dataset_format import VALUE_KINDS, Dataset, save_dataset
from Data_manager.download import DownloadError, Source, download
from Data_manager.readers.archive import ArchiveError, check_integrity, open_member

DOWNLOADS_FOLDER = "_downloads"
REJECTED_FOLDER = "rejected"
DUPLICATE_POLICIES = ("keep_latest", "keep_max", "error")


class ParseError(ValueError):
    """A source file does not have the expected layout; the message names the file and line."""


def text_lines(text, label: str) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` for each line of ``text`` (see :func:`open_text`), without its line ending."""
    line_number = 0
    try:
        for line_number, line in enumerate(text, start=1):
            yield line_number, line.rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise ParseError(f"{label}:{line_number + 1}: not valid {error.encoding} text ({error.reason})") from None


def split_fields(line: str, separator: str | None, n_fields: int, label: str, line_number: int) -> list[str]:
    """``line`` split on ``separator`` (whitespace when ``None``) into at least ``n_fields`` fields."""
    fields = line.split(separator)
    if len(fields) < n_fields:
        raise ParseError(f"{label}:{line_number}: expected {n_fields} fields, found {len(fields)}: {line[:80]!r}")
    return fields


def to_number(text: str, label: str, line_number: int) -> float:
    """A finite float, or ``ParseError``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ParseError(f"{label}:{line_number}: {text[:40]!r} is not a number")
    return value


def to_seconds(text: str, label: str, line_number: int) -> int:
    """Whole seconds from an integer or decimal timestamp, or ``ParseError``."""
    try:
        return int(text)
    except ValueError:
        return int(to_number(text, label, line_number))


def date_to_seconds(text: str, label: str, line_number: int) -> int:
    """Seconds since the epoch of an ISO date or date-time (UTC unless it names its offset)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParseError(f"{label}:{line_number}: {text[:40]!r} is not an ISO date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


def _decoded(stream, encoding: str) -> Iterator[str]:
    for raw in stream:
        yield raw.decode(encoding)


@contextmanager
def open_text(path, member: str | None = None, encoding: str = "utf-8", inner_gzip: bool = False):
    """Yield ``(label, lines)`` of a file or an archive member; ``label`` names it in errors.

    ``lines`` iterates over the decoded lines (line endings included), one at a time, so
    that a decoding error is raised at its own line. ``inner_gzip``: the member is itself
    gzip-compressed (e.g. a ``.txt.gz`` inside a ``.tgz``). A ``ParseError`` or
    ``ArchiveError`` raised while reading gets ``source_file``: the name of ``path``.
    """
    label = f"{Path(path).name}:{member}" if member else Path(path).name
    try:
        with open_member(path, member) as stream:
            if inner_gzip:
                stream = gzip.GzipFile(fileobj=stream)
            yield label, _decoded(stream, encoding)
    except (ParseError, ArchiveError) as error:
        if getattr(error, "source_file", None) is None:
            error.source_file = Path(path).name  # the file to move aside (Reader.produce)
        raise


def add_rows(builder, text, label: str, *, separator: str | None, columns: tuple, header: bool = False,
             comment: str | None = None, value: float | None = None) -> None:
    """Add one interaction per line of ``text``: fields split on ``separator`` (whitespace if ``None``).

    ``columns`` = (user, item, value[, timestamp]) field positions; a value position of
    ``None`` gives every row ``value``. Blank lines, lines starting with ``comment``
    and the first line when ``header`` are skipped.
    """
    user_column, item_column, value_column, *rest = columns
    timestamp_column = rest[0] if rest else None
    n_fields = max(column for column in columns if column is not None) + 1
    for line_number, line in text_lines(text, label):
        if (header and line_number == 1) or not line.strip() or (comment and line.startswith(comment)):
            continue
        fields = split_fields(line, separator, n_fields, label, line_number)
        builder.add(
            fields[user_column],
            fields[item_column],
            value if value_column is None else to_number(fields[value_column], label, line_number),
            None if timestamp_column is None else to_seconds(fields[timestamp_column], label, line_number),
        )


def add_csv_rows(builder, text, label: str, *, columns: tuple, delimiter: str = ",", escapechar: str | None = None,
                 timestamp=to_seconds) -> None:
    """Add one interaction per record of a quoted CSV file with a header row.

    ``columns`` = header names of (user, item, value[, timestamp]); ``timestamp`` turns
    the timestamp field into seconds. Quoted fields may hold delimiters and line breaks.
    """
    reader = csv.reader(text, delimiter=delimiter, escapechar=escapechar)
    try:
        header = next(reader, [])
        if header:
            header[0] = header[0].removeprefix("\ufeff")  # a byte-order mark left by some CSV writers
        missing = [name for name in columns if name not in header]
        if missing:
            raise ParseError(f"{label}:1: header {header[:8]} lacks column(s) {missing}")
        positions = [header.index(name) for name in columns]
        n_fields = max(positions) + 1
        for record in reader:
            if not record:
                continue
            if len(record) < n_fields:
                raise ParseError(f"{label}:{reader.line_num}: expected {n_fields} fields, found {len(record)}")
            builder.add(
                record[positions[0]],
                record[positions[1]],
                to_number(record[positions[2]], label, reader.line_num),
                timestamp(record[positions[3]], label, reader.line_num) if len(positions) > 3 else None,
            )
    except UnicodeDecodeError as error:
        raise ParseError(f"{label}:{reader.line_num + 1}: not valid {error.encoding} text ({error.reason})") from None
    except csv.Error as error:
        raise ParseError(f"{label}:{reader.line_num}: {error}") from None


class InteractionBuilder:
    """Collects (user, item, value[, timestamp]) rows, mapping ids to indices as they come.

    ``users``/``items`` pre-set a catalogue (its order gives the indices); rows with an id
    outside it are then ignored when ``add_users``/``add_items`` is false.
    """

    def __init__(self, has_timestamps: bool, users=(), items=(), add_users: bool = True, add_items: bool = True):
        self.has_timestamps = has_timestamps
        self._users = {}
        self._items = {}
        for user in users:
            self._users.setdefault(user, len(self._users))
        for item in items:
            self._items.setdefault(item, len(self._items))
        self._add_users = add_users
        self._add_items = add_items
        self._rows = array("i")
        self._cols = array("i")
        self._values = array("d")
        self._timestamps = array("q")

    def add(self, user: str, item: str, value: float, timestamp: int | None = None) -> None:
        row = self._users.get(user)
        if row is None:
            if not self._add_users:
                return
            row = self._users[user] = len(self._users)
        col = self._items.get(item)
        if col is None:
            if not self._add_items:
                return
            col = self._items[item] = len(self._items)
        self._rows.append(row)
        self._cols.append(col)
        self._values.append(value)
        if self.has_timestamps:
            self._timestamps.append(timestamp)

    def __len__(self) -> int:
        return len(self._rows)

    def _deduplicate(self, rows, cols, values, timestamps, policy: str, n_items: int, label: str) -> np.ndarray:
        """Indices of the rows to keep under ``policy`` (see the module docstring)."""
        pairs = rows.astype(np.int64) * n_items + cols
        position = np.arange(len(pairs))
        if policy == "error":
            order = np.argsort(pairs, kind="stable")
            repeated = np.flatnonzero(pairs[order][1:] == pairs[order][:-1])
            if len(repeated):
                first = order[repeated[0]]
                user_ids, item_ids = list(self._users), list(self._items)
                raise ParseError(
                    f"{label}: duplicate interaction for user {user_ids[rows[first]]!r} and item "
                    f"{item_ids[cols[first]]!r}"
                )
            return position
        key = timestamps if policy == "keep_latest" else values
        order = np.lexsort((position, key, pairs))
        last_of_pair = np.append(pairs[order][1:] != pairs[order][:-1], True)
        return order[last_of_pair]

    def build(self, name: str, duplicates: str, is_implicit: bool, sources: list, label: str,
              value_kind: str = "rating") -> Dataset:
        """The :class:`Dataset` of the collected rows; ``label`` names the data in errors."""
        if not len(self):
            raise ParseError(f"{label}: no interactions found")
        rows = np.frombuffer(self._rows, dtype=np.int32)
        cols = np.frombuffer(self._cols, dtype=np.int32)
        values = np.frombuffer(self._values, dtype=np.float64)
        timestamps = np.frombuffer(self._timestamps, dtype=np.int64) if self.has_timestamps else None
        if duplicates == "keep_latest" and timestamps is None:
            raise ValueError(f"{name}: duplicate policy 'keep_latest' needs timestamps")
        shape = (len(self._users), len(self._items))
        keep = self._deduplicate(rows, cols, values, timestamps, duplicates, shape[1], label)
        keep = keep[values[keep] != 0]
        URM_all = sp.csr_matrix((values[keep].astype(np.float32), (rows[keep], cols[keep])), shape=shape)
        URM_timestamp = None
        if timestamps is not None:
            URM_timestamp = sp.csr_matrix((timestamps[keep], (rows[keep], cols[keep])), shape=shape, dtype=np.int64)
        return Dataset(
            name=name,
            URM_all=URM_all,
            user_ids=list(self._users),
            item_ids=list(self._items),
            URM_timestamp=URM_timestamp,
            is_implicit=is_implicit,
            sources=sources,
            value_kind=value_kind,
        )


def _move_aside(path: Path) -> Path:
    """Move a rejected source file to ``_downloads/rejected/`` (replacing an older reject); returns its new path."""
    target = path.parent / REJECTED_FOLDER / path.name
    target.parent.mkdir(exist_ok=True)
    os.replace(path, target)
    return target


def _rejected(error: Exception, paths: list[Path]) -> str:
    """Move ``paths`` aside and say so, after ``error``'s own message."""
    moved = ", ".join(str(_move_aside(path)) for path in paths if path.exists())
    return f"{one_line(error)}; moved {moved} aside, so the next run fetches it again"


def _checksum_note(source: Source, sha256: str, size: int) -> str | None:
    """Why a file differs from the known release of ``source``, or ``None`` when it matches (or nothing is known)."""
    problems = []
    if source.sha256 is not None and sha256 != source.sha256:
        problems.append(f"sha256 {sha256}, expected {source.sha256}")
    if source.size is not None and size != source.size:
        problems.append(f"{size} bytes, expected {source.size}")
    if not problems:
        return None
    return f"{source.filename}: checksum differs from the known release ({', '.join(problems)})"


@dataclass(frozen=True)
class Reader:
    """How one public dataset is made: its source files and how to parse them.

    ``parse(files)`` gets ``{source filename: local path}`` and returns a filled
    :class:`InteractionBuilder`. ``alternatives``: readers of the same dataset from
    other files (a second source), used when their files are in ``_downloads/`` and
    this reader's are not, or when this reader's files cannot be downloaded.
    ``value_kind``: what the values are (see ``Data_manager.dataset_format.VALUE_KINDS``).
    """

    name: str
    family: str
    size_class: str
    sources: tuple[Source, ...]
    parse: Callable[[dict[str, Path]], InteractionBuilder]
    duplicates: str = "error"
    is_implicit: bool = False
    alternatives: tuple["Reader", ...] = ()
    value_kind: str = "rating"

    def __post_init__(self):
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"{self.name}: duplicate policy {self.duplicates!r} is not one of {DUPLICATE_POLICIES}")
        if any(alternative.name != self.name for alternative in self.alternatives):
            raise ValueError(f"{self.name}: an alternative reader must produce the same dataset")
        if self.value_kind not in VALUE_KINDS:
            raise ValueError(f"{self.name}: value_kind {self.value_kind!r} is not one of {VALUE_KINDS}")

    @property
    def all_sources(self) -> tuple[Source, ...]:
        """The source files of this reader and of its alternatives."""
        return self.sources + tuple(source for alternative in self.alternatives for source in alternative.sources)

    def fetch(self, data_dir, notes: dict[str, str] | None = None, **download_options) -> dict[str, Path]:
        """Every source file, present and checked in ``data_dir/_downloads/``; downloads what is missing.

        A file already there that fails the integrity check (e.g. placed by hand) is moved
        to ``_downloads/rejected/`` and downloaded again (``notes[filename]`` says so);
        without a URL to download it from, ``DownloadError`` says so.
        """
        folder = Path(data_dir) / DOWNLOADS_FOLDER
        files = {}
        for source in self.sources:
            path = folder / source.filename
            if path.exists():
                try:
                    check_integrity(path)
                except ArchiveError as error:
                    message = _rejected(error, [path])
                    if not source.urls():
                        raise DownloadError(f"{message}. {source.manual or ''}".rstrip(". ")) from None
                    if notes is not None:
                        notes[source.filename] = f"{message}; downloaded again"
            files[source.filename] = download(source, folder, verify=check_integrity, **download_options)
        return files

    def read(self, files: dict[str, Path], notes: dict[str, str] | None = None) -> Dataset:
        """Parse the downloaded ``files`` into a :class:`Dataset`.

        Each source's sha256 and size are compared with the known release's: a file that
        differs (placed by hand: downloads are checked before they are kept) is used when
        it parses, and its source entry says so (``verified`` false, ``note``); ``notes``
        (filename -> text, e.g. from :meth:`fetch`) are added to the entries' ``note``. A
        parse error gets ``checksum_notes``: how the files differ from the known release.
        """
        sources, differing = [], []
        for source in self.sources:
            path = files[source.filename]
            sha256, size = file_sha256(path), path.stat().st_size
            differs = _checksum_note(source, sha256, size)
            entry = {"url": source.url, "file": source.filename, "sha256": sha256, "bytes": size,
                     "verified": None if source.sha256 is None and source.size is None else differs is None}
            said = [note for note in ((notes or {}).get(source.filename), differs and f"{differs}; used because it parses")
                    if note]
            if said:
                entry["note"] = "; ".join(said)
            sources.append(entry)
            differing += [differs] if differs else []
        try:
            builder = self.parse(files)
        except (ParseError, ArchiveError) as error:
            error.checksum_notes = differing
            raise
        return builder.build(self.name, self.duplicates, self.is_implicit, sources, label=self.name,
                             value_kind=self.value_kind)

    def _fetch_and_read(self, data_dir, download_options: dict) -> Dataset:
        notes = {}
        files = self.fetch(data_dir, notes, **download_options)
        try:
            return self.read(files, notes)
        except (ParseError, ArchiveError) as error:
            culprits = [files[error.source_file]] if getattr(error, "source_file", None) in files else list(files.values())
            said = "".join(f"; {note}" for note in getattr(error, "checksum_notes", []))
            raise type(error)(_rejected(error, culprits) + said) from None

    def produce(self, data_dir, **download_options) -> Dataset:
        """The dataset, from its source files in ``data_dir/_downloads/`` (downloaded as needed).

        Readers (this one, then its alternatives) whose files are all there come first; the
        others are tried in order until one's files download. A source file that fails
        to parse is moved to ``_downloads/rejected/`` and the error says so.
        """
        folder = Path(data_dir) / DOWNLOADS_FOLDER
        candidates = (self, *self.alternatives)
        present = [reader for reader in candidates if all((folder / s.filename).exists() for s in reader.sources)]
        failures = []
        for reader in present + [reader for reader in candidates if reader not in present]:
            if reader not in present and not any(source.urls() for source in reader.sources):
                # only placed by hand: its instructions, unless another source's already gave them
                manual = " ".join(source.manual for source in reader.sources if source.manual)
                if manual and manual not in " ".join(failures):
                    failures.append(manual)
                continue
            try:
                return reader._fetch_and_read(data_dir, download_options)
            except DownloadError as error:
                failures.append(str(error))
        raise DownloadError(" | ".join(failures))

    def prepare(self, data_dir, **download_options) -> Path:
        """Produce the dataset and save it to ``data_dir/<name>/``; returns that folder."""
        return save_dataset(self.produce(data_dir, **download_options), data_dir)
