"""Dataset splitters, named as the reference's split folders.

Each splitter turns a ``Dataset`` into a ``DataSplit`` (train, validation, test of one
shape, plus its ``info``); ``split_format.write_split`` stores it. Every interaction
of a kept user lands in exactly one of the three matrices; items are never dropped,
so the split has the dataset's ``n_items`` and ``n_users - dropped users`` rows
(``user_index`` maps split rows back to dataset rows), as in the reference.

- ``DataSplitter_leave_k_out_last``: per user, sort the interactions by
  ``(key, item index)``; the last ``k_out`` are test, the ``k_out`` before them
  validation, the rest train. Key: the timestamp when the dataset has them
  (``ordering = "timestamp"``). Without timestamps, what the reference does for
  every dataset: it sorts by the URM value, i.e. the rating, so the highest-rated
  items are held out (``ordering = "rating"``; ties: the higher item index first).
- ``DataSplitter_leave_k_out_random``: the same with a seeded random permutation
  as key (``ordering = "random"``).
  Both drop users with fewer than ``k_out * (2 if use_validation else 1) + 1``
  interactions (3 with the defaults), as the reference does.
- ``DataSplitter_global_timestamp``: with ``p = k_out_percent`` (20, as the reference
  ran it), ``t_val`` and ``t_test`` are the ``100 - 2p`` and ``100 - p`` percentiles
  of all timestamps (``method="lower"``); interactions at ``t >= t_test`` are test,
  ``t_val <= t < t_test`` validation, ``t < t_val`` train: the latest 40% are held
  out, 20% each for validation and test. Users without a train interaction are
  dropped. A dataset without timestamps raises ``SplitterNotApplicable`` (the
  reference fails on it too).

As in the reference, a split with at most 10 train or test interactions, or an
empty validation set, is an error (``SplitError``).
"""

import hashlib
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from Data_manager.dataset_format import Dataset
from Data_manager.split_format import DataSplit

TRAIN, VALIDATION, TEST = 0, 1, 2
_MIN_TRAIN_TEST_INTERACTIONS = 10


class SplitError(ValueError):
    """A dataset cannot be split with the requested splitter and parameters."""


class SplitterNotApplicable(SplitError):
    """The splitter does not apply to this kind of dataset (e.g. one without timestamps)."""


class UnknownSplitter(KeyError):
    """A splitter name that ``SPLITTERS`` does not know."""

    def __str__(self):
        return self.args[0]


def dataset_fingerprint(dataset: Dataset) -> str:
    """Hex sha256 of a dataset's content: shape, CSR arrays of ``URM_all`` and the timestamps.

    Arrays are hashed in fixed dtypes (int64 structure, float32 values), so the digest
    does not depend on how the matrices were stored.
    """
    digest = hashlib.sha256()
    URM = dataset.URM_all
    parts = [np.array(URM.shape, "<i8"), URM.indptr.astype("<i8"), URM.indices.astype("<i8"), URM.data.astype("<f4")]
    if dataset.URM_timestamp is not None:
        parts.append(dataset.URM_timestamp.data.astype("<i8"))
    for array in parts:
        digest.update(np.array([array.size], "<i8").tobytes())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _timestamps(dataset: Dataset, splitter_name: str) -> np.ndarray:
    """``URM_timestamp.data`` aligned with ``URM_all.data``."""
    URM, stamps = dataset.URM_all, dataset.URM_timestamp
    if not (np.array_equal(URM.indptr, stamps.indptr) and np.array_equal(URM.indices, stamps.indices)):
        raise SplitError(f"{splitter_name}: {dataset.name}'s URM_timestamp has other entries than URM_all")
    return stamps.data


class DataSplitter(ABC):
    """Base class: subclasses set ``name`` and implement ``params()`` and ``_assign(dataset)``.

    ``_assign`` returns ``(part, keep_users, ordering, extra_info)``: the part
    (``TRAIN``/``VALIDATION``/``TEST``) of every stored interaction in CSR order, a
    boolean mask of the users kept, the ordering used, and extra ``split.json`` fields.
    """

    name: str = ""
    use_validation: bool = True

    @abstractmethod
    def params(self) -> dict:
        """The parameters recorded in ``split.json``."""

    @abstractmethod
    def _assign(self, dataset: Dataset):
        """``(part, keep_users, ordering, extra_info)`` for ``dataset``."""

    def split(self, dataset: Dataset) -> DataSplit:
        """Split ``dataset``; deterministic for equal data and parameters."""
        URM = dataset.URM_all
        part, keep_users, ordering, extra = self._assign(dataset)
        if not keep_users.any():
            raise SplitError(f"{self.name}: no user of {dataset.name} can be kept")
        n_kept = int(keep_users.sum())
        rows = np.repeat(np.arange(URM.shape[0]), np.diff(URM.indptr))
        new_row = np.cumsum(keep_users) - 1
        matrices = {}
        for label, matrix_name in ((TRAIN, "URM_train"), (VALIDATION, "URM_validation"), (TEST, "URM_test")):
            if label == VALIDATION and not self.use_validation:
                continue
            selected = (part == label) & keep_users[rows]
            counts = np.bincount(new_row[rows[selected]], minlength=n_kept)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            matrices[matrix_name] = sp.csr_matrix(
                (URM.data[selected], URM.indices[selected], indptr), shape=(n_kept, URM.shape[1])
            )
        for matrix_name in ("URM_train", "URM_test"):
            if matrices[matrix_name].nnz <= _MIN_TRAIN_TEST_INTERACTIONS:
                raise SplitError(
                    f"{self.name}: {dataset.name} gives {matrices[matrix_name].nnz} {matrix_name} interactions "
                    f"(more than {_MIN_TRAIN_TEST_INTERACTIONS} required)"
                )
        if self.use_validation and matrices["URM_validation"].nnz == 0:
            raise SplitError(f"{self.name}: {dataset.name} gives an empty validation set")
        info = {
            "dataset_name": dataset.name,
            "splitter_name": self.name,
            "params": self.params(),
            "ordering": ordering,
            "dataset_sha256": dataset_fingerprint(dataset),
            "dataset_shape": list(URM.shape),
            "value_kind": dataset.value_kind,
            **extra,
        }
        return DataSplit(
            URM_train=matrices["URM_train"],
            URM_validation=matrices.get("URM_validation"),
            URM_test=matrices["URM_test"],
            user_index=np.flatnonzero(keep_users),
            info=info,
        )


class _LeaveKOut(DataSplitter):
    """Per user, the last ``k_out`` interactions by a key are test, the ``k_out`` before validation."""

    def __init__(self, k_out: int = 1, use_validation: bool = True):
        if isinstance(k_out, bool) or not isinstance(k_out, (int, np.integer)) or k_out < 1:
            raise ValueError(f"{self.name}: k_out must be an integer >= 1, got {k_out!r}")
        self.k_out = int(k_out)
        self.use_validation = bool(use_validation)

    @abstractmethod
    def _order_key(self, dataset: Dataset) -> tuple[np.ndarray, str]:
        """Per stored interaction, the key whose largest values are held out; and its ordering name."""

    def _assign(self, dataset: Dataset):
        URM = dataset.URM_all
        per_user = np.diff(URM.indptr)
        rows = np.repeat(np.arange(URM.shape[0]), per_user)
        key, ordering = self._order_key(dataset)
        order = np.lexsort((URM.indices, key, rows))  # by user, then key, then item
        rank_from_end = np.empty(URM.nnz, dtype=np.int64)
        rank_from_end[order] = URM.indptr[rows + 1] - 1 - np.arange(URM.nnz)
        part = np.full(URM.nnz, TRAIN, dtype=np.int8)
        n_held_out = 2 * self.k_out if self.use_validation else self.k_out
        part[rank_from_end < n_held_out] = VALIDATION
        part[rank_from_end < self.k_out] = TEST
        keep_users = per_user >= n_held_out + 1
        return part, keep_users, ordering, {}


class DataSplitter_leave_k_out_last(_LeaveKOut):
    """Leave the latest ``k_out`` out (by timestamp; by rating without timestamps, as the reference)."""

    name = "DataSplitter_leave_k_out_last"

    def params(self) -> dict:
        return {"k_out": self.k_out, "use_validation": self.use_validation, "seed": None}

    def _order_key(self, dataset: Dataset) -> tuple[np.ndarray, str]:
        if dataset.has_timestamps:
            return _timestamps(dataset, self.name), "timestamp"
        return dataset.URM_all.data, "rating"


class DataSplitter_leave_k_out_random(_LeaveKOut):
    """Leave ``k_out`` random interactions out per user, reproducibly for a given ``seed``."""

    name = "DataSplitter_leave_k_out_random"

    def __init__(self, k_out: int = 1, use_validation: bool = True, seed: int = 0):
        super().__init__(k_out, use_validation)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"{self.name}: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)

    def params(self) -> dict:
        return {"k_out": self.k_out, "use_validation": self.use_validation, "seed": self.seed}

    def _order_key(self, dataset: Dataset) -> tuple[np.ndarray, str]:
        return np.random.default_rng(self.seed).permutation(dataset.URM_all.nnz), "random"


class DataSplitter_global_timestamp(DataSplitter):
    """One global time cut: percentiles ``100 - 2p`` and ``100 - p`` of all timestamps."""

    name = "DataSplitter_global_timestamp"

    def __init__(self, k_out_percent: int = 20):
        integer = isinstance(k_out_percent, (int, np.integer)) and not isinstance(k_out_percent, bool)
        if not integer or not 0 < k_out_percent < 49:
            raise ValueError(f"{self.name}: k_out_percent must be an integer in 1..48, got {k_out_percent!r}")
        self.k_out_percent = int(k_out_percent)

    def params(self) -> dict:
        return {"k_out_percent": self.k_out_percent, "use_validation": True, "seed": None}

    def _assign(self, dataset: Dataset):
        if not dataset.has_timestamps:
            raise SplitterNotApplicable(f"{self.name}: {dataset.name} has no timestamps")
        URM = dataset.URM_all
        stamps = _timestamps(dataset, self.name)
        percentiles = [100 - 2 * self.k_out_percent, 100 - self.k_out_percent]
        t_val, t_test = (int(t) for t in np.percentile(stamps, percentiles, method="lower"))
        part = np.full(URM.nnz, TRAIN, dtype=np.int8)
        part[stamps >= t_val] = VALIDATION
        part[stamps >= t_test] = TEST
        rows = np.repeat(np.arange(URM.shape[0]), np.diff(URM.indptr))
        keep_users = np.bincount(rows[part == TRAIN], minlength=URM.shape[0]) > 0
        return part, keep_users, "timestamp", {"cut_timestamps": {"validation": t_val, "test": t_test}}


SPLITTERS: dict[str, type[DataSplitter]] = {
    cls.name: cls
    for cls in (DataSplitter_leave_k_out_last, DataSplitter_leave_k_out_random, DataSplitter_global_timestamp)
}


def get_splitter(name: str) -> type[DataSplitter]:
    """The splitter class named ``name``; ``UnknownSplitter`` lists the valid names otherwise."""
    try:
        return SPLITTERS[name]
    except KeyError:
        raise UnknownSplitter(f"unknown splitter {name!r}; valid names: {', '.join(SPLITTERS)}") from None
