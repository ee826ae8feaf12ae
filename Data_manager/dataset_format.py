"""The standard dataset format, ``DATA_DIR/<DatasetName>/``.

Files: ``URM_all.npz`` (CSR users x items, float32), ``URM_timestamp.npz``
(same pattern, int64 seconds; only with timestamps), ``user_ids.csv`` and
``item_ids.csv`` (``original_id,index``), and ``dataset.json`` (name, sources
with their sha256, shape, counts, flags, ``value_kind``, package version, creation
time). A folder is written to a temporary sibling and renamed into place.

``value_kind`` says what the values are: ``rating`` (a graded judgement, e.g. 1-5
stars), ``count`` (how often, e.g. Last.fm play counts) or ``binary`` (1 for every
interaction of implicit data). The evaluation's NDCG gain depends on it.
"""

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from Data_manager.atomic_files import atomic_folder, file_sha256, write_json_atomic
from Data_manager.version import __version__

REQUIRED_FILES = ("URM_all.npz", "user_ids.csv", "item_ids.csv", "dataset.json")
VALUE_KINDS = ("rating", "count", "binary")


class DatasetFormatError(ValueError):
    """A dataset folder is missing, incomplete or inconsistent."""


def sources_verified(sources: list) -> bool | None:
    """False when a source file differs from its known release, True when every one matches one, else None."""
    flags = [source.get("verified") for source in sources]
    if False in flags:
        return False
    return True if flags and all(flags) else None


@dataclass
class Dataset:
    """An interaction matrix with its id maps and provenance.

    ``sources`` lists ``{"url": ..., "sha256": ...}`` per source file; its ``verified``
    (compared with the known release: true, false, or null when nothing is known) and
    ``note`` (what happened to the file) are optional.
    ``value_kind`` is one of ``VALUE_KINDS``.
    """

    name: str
    URM_all: sp.csr_matrix
    user_ids: list
    item_ids: list
    URM_timestamp: sp.csr_matrix | None = None
    is_implicit: bool = False
    sources: list = field(default_factory=list)
    value_kind: str = "rating"

    def __post_init__(self):
        if self.value_kind not in VALUE_KINDS:
            raise DatasetFormatError(f"{self.name}: value_kind {self.value_kind!r} is not one of {', '.join(VALUE_KINDS)}")
        self.URM_all = sp.csr_matrix(self.URM_all, dtype=np.float32)
        self.URM_all.sort_indices()
        n_users, n_items = self.URM_all.shape
        if (len(self.user_ids), len(self.item_ids)) != (n_users, n_items):
            raise DatasetFormatError(
                f"{self.name}: {len(self.user_ids)} user ids and {len(self.item_ids)} item ids "
                f"for a {n_users} x {n_items} matrix"
            )
        if self.URM_timestamp is not None:
            self.URM_timestamp = sp.csr_matrix(self.URM_timestamp, dtype=np.int64)
            self.URM_timestamp.sort_indices()
            if self.URM_timestamp.shape != self.URM_all.shape or self.URM_timestamp.nnz != self.URM_all.nnz:
                raise DatasetFormatError(f"{self.name}: URM_timestamp does not match URM_all's shape and entries")

    @property
    def has_timestamps(self) -> bool:
        return self.URM_timestamp is not None

    def metadata(self) -> dict:
        n_users, n_items = self.URM_all.shape
        return {
            "name": self.name,
            "sources": self.sources,
            "n_users": n_users,
            "n_items": n_items,
            "n_interactions": int(self.URM_all.nnz),
            "is_implicit": self.is_implicit,
            "value_kind": self.value_kind,
            "has_timestamps": self.has_timestamps,
            "verified": sources_verified(self.sources),
            "package_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "sha256": {},
        }


def _write_ids(path: Path, ids) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["original_id", "index"])
        writer.writerows((original, index) for index, original in enumerate(ids))


def _read_ids(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0] != ["original_id", "index"]:
        raise DatasetFormatError(f"{path}: missing header 'original_id,index'")
    ids = []
    for line_number, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[1] != str(line_number - 2):
            raise DatasetFormatError(f"{path}:{line_number}: expected 'original_id,{line_number - 2}'")
        ids.append(row[0])
    return ids


def save_dataset(dataset: Dataset, data_dir) -> Path:
    """Write ``dataset`` to ``data_dir/<name>/`` atomically; returns that folder."""
    final = Path(data_dir) / dataset.name
    metadata = dataset.metadata()
    with atomic_folder(final) as folder:
        sp.save_npz(folder / "URM_all.npz", dataset.URM_all, compressed=True)
        if dataset.URM_timestamp is not None:
            sp.save_npz(folder / "URM_timestamp.npz", dataset.URM_timestamp, compressed=True)
        _write_ids(folder / "user_ids.csv", dataset.user_ids)
        _write_ids(folder / "item_ids.csv", dataset.item_ids)
        metadata["sha256"] = {p.name: file_sha256(p) for p in sorted(folder.iterdir())}
        write_json_atomic(folder / "dataset.json", metadata)
    return final


def read_dataset_metadata(folder) -> dict:
    """``dataset.json`` of a dataset folder; ``DatasetFormatError`` when absent or not JSON."""
    path = Path(folder) / "dataset.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetFormatError(f"{folder}: no dataset.json (not a dataset folder)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetFormatError(f"{path}: not valid JSON ({error})") from None


def load_dataset(folder, verify_checksums: bool = True) -> Dataset:
    """Read a dataset folder, checking files, checksums and shapes; ``DatasetFormatError`` on any problem."""
    folder = Path(folder)
    metadata = read_dataset_metadata(folder)
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise DatasetFormatError(f"{folder}: missing {name}")
    if verify_checksums:
        for name, expected in metadata.get("sha256", {}).items():
            if not (folder / name).is_file() or file_sha256(folder / name) != expected:
                raise DatasetFormatError(f"{folder / name}: checksum mismatch or file missing")
    try:
        URM_all = sp.load_npz(folder / "URM_all.npz")
        URM_timestamp = sp.load_npz(folder / "URM_timestamp.npz") if metadata.get("has_timestamps") else None
    except (OSError, ValueError) as error:
        raise DatasetFormatError(f"{folder}: unreadable matrix ({error})") from None
    if metadata.get("value_kind") not in VALUE_KINDS:
        raise DatasetFormatError(
            f"{folder / 'dataset.json'}: value_kind {metadata.get('value_kind')!r} is not one of "
            f"{', '.join(VALUE_KINDS)} (written by an older version: prepare the dataset again)"
        )
    expected_shape = (metadata.get("n_users"), metadata.get("n_items"))
    if URM_all.shape != expected_shape or URM_all.nnz != metadata.get("n_interactions"):
        raise DatasetFormatError(
            f"{folder}: URM_all is {URM_all.shape} with {URM_all.nnz} entries, dataset.json says "
            f"{expected_shape} with {metadata.get('n_interactions')}"
        )
    return Dataset(
        name=metadata["name"],
        URM_all=URM_all,
        user_ids=_read_ids(folder / "user_ids.csv"),
        item_ids=_read_ids(folder / "item_ids.csv"),
        URM_timestamp=URM_timestamp,
        is_implicit=bool(metadata.get("is_implicit")),
        sources=metadata.get("sources", []),
        value_kind=metadata["value_kind"],
    )
