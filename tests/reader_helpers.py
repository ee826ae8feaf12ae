"""Helpers of the reader tests: tiny archives built at run time, and exact dataset checks."""

import bz2
import dataclasses
import gzip
import io
import tarfile
import zipfile

import numpy as np

from Data_manager.dataset_format import load_dataset
from Data_manager.readers import READERS

READERS_BY_NAME = {reader.name: reader for reader in READERS}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], compression: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gz_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bz2_bytes(data: bytes) -> bytes:
    return bz2.compress(data)


def reader(name: str, keep_checksums: bool = False):
    """The registry's reader of ``name``; known checksums dropped unless ``keep_checksums`` (test files differ)."""
    found = READERS_BY_NAME[name]
    if keep_checksums:
        return found
    sources = tuple(dataclasses.replace(source, sha256=None, size=None) for source in found.sources)
    return dataclasses.replace(found, sources=sources)


def prepare_from_mirror(mirror, data_dir, name: str, files: dict[str, bytes]):
    """Serve ``files`` from ``mirror``, prepare dataset ``name`` into ``data_dir`` and load it back."""
    mirror.files.update(files)
    folder = reader(name).prepare(data_dir, retries=0, backoff=0, progress=False)
    return load_dataset(folder)


def assert_dataset(dataset, user_ids, item_ids, values: dict, timestamps: dict | None = None, implicit: bool = False):
    """``dataset`` holds exactly ``values`` (and ``timestamps``), keyed by (user id, item id), with these id orders."""
    assert dataset.user_ids == list(user_ids)
    assert dataset.item_ids == list(item_ids)
    assert dataset.is_implicit is implicit
    expected = np.zeros((len(user_ids), len(item_ids)), dtype=np.float32)
    for (user, item), value in values.items():
        expected[user_ids.index(user), item_ids.index(item)] = value
    np.testing.assert_array_equal(dataset.URM_all.toarray(), expected)
    assert dataset.URM_all.nnz == len(values)
    if timestamps is None:
        assert dataset.URM_timestamp is None
        return
    assert set(timestamps) == set(values)
    URM_timestamp = dataset.URM_timestamp.tocoo()
    stored = {
        (user_ids[row], item_ids[col]): int(seconds)
        for row, col, seconds in zip(URM_timestamp.row, URM_timestamp.col, URM_timestamp.data)
    }
    assert stored == timestamps
