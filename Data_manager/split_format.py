"""The split folder, ``SPLITS_DIR/<DatasetName>/<SplitterName>/``.

Files:

- ``URM_train.npz``, ``URM_test.npz`` and, when the splitter uses one,
  ``URM_validation.npz``: scipy CSR matrices (float32 values), all of the split's
  shape, written as uncompressed zip archives with a fixed member date so that the
  same matrix always gives the same bytes (``scipy.sparse.load_npz`` reads them);
- ``user_index.npy``: int64, row ``r`` of the split matrices is user
  ``user_index[r]`` of the dataset (splitters may drop users);
- ``split.json``: dataset name, splitter name and ``params``, ``ordering`` (what
  the held-out interactions were chosen by), ``dataset_sha256`` (content digest of
  the split dataset), ``dataset_shape``, ``value_kind`` (the dataset's, see
  ``Data_manager.dataset_format``; absent in splits of older versions), ``shape``, ``n_interactions`` per matrix,
  ``n_users_dropped``, ``sha256`` of every other file, ``package_version``, and any
  splitter-specific record (e.g. ``cut_timestamps``). No creation time: equal
  content gives equal bytes.

Nothing here uses pickle: ``.npy`` members are read with ``allow_pickle=False``.
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from Data_manager.atomic_files import atomic_folder, file_sha256, write_json_atomic
from Data_manager.dataset_format import VALUE_KINDS
from Data_manager.version import __version__

MATRIX_NAMES = ("URM_train", "URM_validation", "URM_test")
USER_INDEX_FILE = "user_index.npy"
INFO_FILE = "split.json"
_KNOWN_FILES = tuple(f"{name}.npz" for name in MATRIX_NAMES) + (USER_INDEX_FILE,)
_REQUIRED_INFO_KEYS = ("dataset_name", "splitter_name", "params", "shape", "n_interactions", "sha256")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class SplitFormatError(ValueError):
    """A split folder is missing, incomplete, damaged or inconsistent."""


def _as_csr_float32(matrix, what: str) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise SplitFormatError(f"{what} is not a scipy sparse matrix")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    return matrix


@dataclass
class DataSplit:
    """Train/validation/test matrices of one split (same shape), with the split's ``info``.

    ``URM_validation`` is ``None`` for splitters without a validation set.
    ``user_index[r]`` is the dataset row of split row ``r``.
    """

    URM_train: sp.csr_matrix
    URM_validation: sp.csr_matrix | None
    URM_test: sp.csr_matrix
    user_index: np.ndarray
    info: dict

    def __post_init__(self):
        self.URM_train = _as_csr_float32(self.URM_train, "URM_train")
        self.URM_test = _as_csr_float32(self.URM_test, "URM_test")
        if self.URM_validation is not None:
            self.URM_validation = _as_csr_float32(self.URM_validation, "URM_validation")
        self.user_index = np.asarray(self.user_index, dtype=np.int64)
        shapes = {name: matrix.shape for name, matrix in self.matrices().items()}
        if len(set(shapes.values())) != 1:
            raise SplitFormatError(f"split matrices disagree in shape: {shapes}")
        if self.user_index.shape != (self.URM_train.shape[0],):
            raise SplitFormatError(
                f"user_index has {self.user_index.size} entries for {self.URM_train.shape[0]} split users"
            )

    def matrices(self) -> dict[str, sp.csr_matrix]:
        """The present matrices by name, in ``MATRIX_NAMES`` order."""
        present = {"URM_train": self.URM_train, "URM_validation": self.URM_validation, "URM_test": self.URM_test}
        return {name: matrix for name, matrix in present.items() if matrix is not None}


def split_folder(splits_dir, dataset_name: str, splitter_name: str) -> Path:
    """``splits_dir/<dataset_name>/<splitter_name>``."""
    return Path(splits_dir) / dataset_name / splitter_name


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _csr_npz_bytes(matrix: sp.csr_matrix) -> bytes:
    """The members ``scipy.sparse.save_npz`` writes, stored uncompressed with a fixed date."""
    index_dtype = "<i4" if max(matrix.nnz, matrix.shape[1]) < 2**31 else "<i8"
    members = {
        "indices": matrix.indices.astype(index_dtype),
        "indptr": matrix.indptr.astype(index_dtype),
        "format": np.array(b"csr"),
        "shape": np.array(matrix.shape, dtype="<i8"),
        "data": matrix.data.astype("<f4"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in members.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            member.create_system = 3
            member.external_attr = 0o644 << 16
            archive.writestr(member, _npy_bytes(array))
    return buffer.getvalue()


def write_split(folder, split: DataSplit) -> dict:
    """Write ``split`` to ``folder`` atomically (replacing what is there); returns the written info.

    ``split.info`` must hold ``dataset_name``, ``splitter_name`` and ``params``; the
    shape, counts, checksums and package version are added here.
    """
    missing = [key for key in ("dataset_name", "splitter_name", "params") if key not in split.info]
    if missing:
        raise SplitFormatError(f"split info lacks {', '.join(missing)}")
    matrices = split.matrices()
    info = dict(split.info)
    info.update(
        shape=list(split.URM_train.shape),
        n_interactions={name: int(matrix.nnz) for name, matrix in matrices.items()},
        package_version=__version__,
    )
    if "dataset_shape" in info:
        info["n_users_dropped"] = int(info["dataset_shape"][0] - split.URM_train.shape[0])
    with atomic_folder(folder) as temp:
        for name, matrix in matrices.items():
            (temp / f"{name}.npz").write_bytes(_csr_npz_bytes(matrix))
        (temp / USER_INDEX_FILE).write_bytes(_npy_bytes(split.user_index.astype("<i8")))
        info["sha256"] = {path.name: file_sha256(path) for path in sorted(temp.iterdir())}
        write_json_atomic(temp / INFO_FILE, info)
    return info


def read_split_info(folder) -> dict:
    """``split.json`` of a split folder, with its required keys checked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SplitFormatError(f"{folder}: no such split folder")
    path = folder / INFO_FILE
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise SplitFormatError(f"{folder}: missing {INFO_FILE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SplitFormatError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(info, dict):
        raise SplitFormatError(f"{path}: expected a JSON object")
    missing = [key for key in _REQUIRED_INFO_KEYS if key not in info]
    if missing:
        raise SplitFormatError(f"{path}: missing key(s) {', '.join(missing)}")
    _check_info_types(path, info)
    if info.get("value_kind", VALUE_KINDS[0]) not in VALUE_KINDS:
        raise SplitFormatError(f"{path}: value_kind {info['value_kind']!r} is not one of {', '.join(VALUE_KINDS)}")
    return info


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_info_types(path: Path, info: dict) -> None:
    """Each required field of ``split.json`` has its type: ``SplitFormatError`` naming the field otherwise."""
    def wrong(field: str, expected: str, value) -> SplitFormatError:
        return SplitFormatError(f"{path}: field {field!r} must be {expected}, got {json.dumps(value)}")

    for key in ("dataset_name", "splitter_name"):
        if not isinstance(info[key], str):
            raise wrong(key, "a string", info[key])
    for key in ("params", "n_interactions", "sha256"):
        if not isinstance(info[key], dict):
            raise wrong(key, "an object", info[key])
    shape = info["shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_count(n) for n in shape)):
        raise wrong("shape", "a list of two non-negative integers", shape)
    for name, count in info["n_interactions"].items():
        if not _is_count(count):
            raise wrong(f"n_interactions.{name}", "a non-negative integer", count)
    for name, digest in info["sha256"].items():
        if not (isinstance(digest, str) and len(digest) == 64):
            raise wrong(f"sha256.{name}", "a hex sha256 string", digest)


def _load_csr(path: Path) -> sp.csr_matrix:
    if not zipfile.is_zipfile(path):
        raise SplitFormatError(f"{path}: not a scipy sparse .npz file (not a zip archive)")
    try:
        matrix = sp.load_npz(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise SplitFormatError(f"{path}: not a scipy sparse .npz file ({error})") from None
    if matrix.format != "csr" or matrix.dtype != np.float32:
        raise SplitFormatError(f"{path}: expected a float32 CSR matrix, found {matrix.format} {matrix.dtype}")
    return matrix


def load_split(folder) -> DataSplit:
    """Read and verify a split folder; ``SplitFormatError`` (one line) on any problem.

    Checks: the folder and every file exist, ``split.json`` is valid, each file's
    sha256 matches, every matrix has the recorded shape and interaction count.
    """
    folder = Path(folder)
    info = read_split_info(folder)
    expected_files = {f"{name}.npz" for name in info["n_interactions"]} | {USER_INDEX_FILE}
    if not {"URM_train.npz", "URM_test.npz"} <= expected_files <= set(_KNOWN_FILES):
        raise SplitFormatError(f"{folder / INFO_FILE}: unexpected matrices {sorted(info['n_interactions'])}")
    if set(info["sha256"]) != expected_files:
        raise SplitFormatError(
            f"{folder / INFO_FILE}: sha256 lists {sorted(info['sha256'])}, expected {sorted(expected_files)}"
        )
    for name in sorted(expected_files):
        path = folder / name
        if not path.is_file():
            raise SplitFormatError(f"{folder}: missing {name}")
        if file_sha256(path) != info["sha256"][name]:
            raise SplitFormatError(f"{path}: sha256 mismatch with {INFO_FILE} (file changed or damaged)")
    shape = tuple(info["shape"])
    matrices = {}
    for name in MATRIX_NAMES:
        if name not in info["n_interactions"]:
            continue
        matrix = _load_csr(folder / f"{name}.npz")
        if matrix.shape != shape:
            raise SplitFormatError(f"{folder}: {name} is {matrix.shape}, {INFO_FILE} says {shape}")
        if matrix.nnz != info["n_interactions"][name]:
            raise SplitFormatError(
                f"{folder}: {name} has {matrix.nnz} interactions, {INFO_FILE} says {info['n_interactions'][name]}"
            )
        matrices[name] = matrix
    try:
        user_index = np.load(folder / USER_INDEX_FILE, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SplitFormatError(f"{folder / USER_INDEX_FILE}: unreadable ({error})") from None
    if user_index.dtype != np.int64 or user_index.shape != (shape[0],):
        raise SplitFormatError(f"{folder / USER_INDEX_FILE}: expected {shape[0]} int64 user indices")
    return DataSplit(
        URM_train=matrices["URM_train"],
        URM_validation=matrices.get("URM_validation"),
        URM_test=matrices["URM_test"],
        user_index=user_index,
        info=info,
    )


def split_checksum(info: dict) -> str:
    """One hex sha256 naming a split's exact data: over the sorted ``name sha256`` lines of its files."""
    checksums = info.get("sha256") if isinstance(info, dict) else None
    if not checksums or not isinstance(checksums, dict):
        raise SplitFormatError("split info has no sha256 record")
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(checksums.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
