import hashlib
import json
import os
import stat

import numpy as np
import pytest
import scipy.sparse as sp

from Data_manager import split_format
from Data_manager.split_format import DataSplit, SplitFormatError, load_split, split_checksum, split_folder, write_split
from Data_manager.version import __version__


def _split(validation=True):
    train = sp.csr_matrix(np.array([[1, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 5]], np.float32))
    validation_matrix = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 3, 0]], np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 0, 4], [5, 0, 0, 0], [0, 1, 0, 0]], np.float32))
    info = {"dataset_name": "Tiny", "splitter_name": "DataSplitter_leave_k_out_last",
            "params": {"k_out": 1, "use_validation": validation, "seed": None}, "ordering": "timestamp",
            "dataset_shape": [5, 4]}
    return DataSplit(train, validation_matrix if validation else None, test, np.array([0, 2, 4]), info)


@pytest.fixture
def written(tmp_path):
    folder = split_folder(tmp_path, "Tiny", "DataSplitter_leave_k_out_last")
    info = write_split(folder, _split())
    return folder, info


def test_round_trip(written):
    folder, info = written
    assert folder.name == "DataSplitter_leave_k_out_last" and folder.parent.name == "Tiny"
    loaded = load_split(folder)
    original = _split()
    for name, matrix in original.matrices().items():
        other = loaded.matrices()[name]
        assert other.dtype == np.float32 and other.format == "csr"
        assert (other != matrix).nnz == 0
    assert loaded.user_index.tolist() == [0, 2, 4]
    assert loaded.info == info
    assert info["shape"] == [3, 4] and info["n_users_dropped"] == 2
    assert info["n_interactions"] == {"URM_train": 5, "URM_validation": 3, "URM_test": 3}
    assert info["package_version"] == __version__
    assert sorted(info["sha256"]) == ["URM_test.npz", "URM_train.npz", "URM_validation.npz", "user_index.npy"]
    assert json.loads((folder / "split.json").read_text()) == info


def test_matrices_readable_by_scipy(written):
    folder, _ = written
    assert (sp.load_npz(folder / "URM_train.npz") != _split().URM_train).nnz == 0


def test_without_validation(tmp_path):
    info = write_split(tmp_path / "s", _split(validation=False))
    assert not (tmp_path / "s" / "URM_validation.npz").exists()
    assert "URM_validation" not in info["n_interactions"]
    assert load_split(tmp_path / "s").URM_validation is None


def test_checksum_is_over_sorted_file_digests(written):
    _, info = written
    lines = "".join(f"{name} {info['sha256'][name]}\n" for name in sorted(info["sha256"]))
    assert split_checksum(info) == hashlib.sha256(lines.encode()).hexdigest()
    reordered = dict(info, sha256=dict(reversed(list(info["sha256"].items()))))
    assert split_checksum(reordered) == split_checksum(info)
    other = dict(info, sha256=dict(info["sha256"], **{"URM_test.npz": "0" * 64}))
    assert split_checksum(other) != split_checksum(info)
    with pytest.raises(SplitFormatError):
        split_checksum({})


def _edit_info(folder, change):
    info = json.loads((folder / "split.json").read_text())
    change(info)
    (folder / "split.json").write_text(json.dumps(info))


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "split.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "split.json").unlink(), "missing split.json"),
    (lambda f: (f / "URM_validation.npz").unlink(), "missing URM_validation.npz"),
    (lambda f: _flip_byte(f / "URM_test.npz"), "sha256 mismatch"),
    (lambda f: _edit_info(f, lambda i: i.update(shape=[3, 5])), r"is \(3, 4\), split.json says \(3, 5\)"),
    (lambda f: _edit_info(f, lambda i: i["n_interactions"].update(URM_train=6)), "has 5 interactions, .* says 6"),
    (lambda f: _edit_info(f, lambda i: i.pop("sha256")), "missing key"),
    (lambda f: _edit_info(f, lambda i: i["sha256"].pop("user_index.npy")), "sha256 lists"),
])
def test_damage_is_one_line_split_format_error(written, damage, message):
    folder, _ = written
    damage(folder)
    with pytest.raises(SplitFormatError, match=message) as error:
        load_split(folder)
    assert "\n" not in str(error.value)


def test_missing_folder(tmp_path):
    with pytest.raises(SplitFormatError, match="no such split folder"):
        load_split(tmp_path / "absent")


def test_inconsistent_split_is_rejected():
    split = _split()
    with pytest.raises(SplitFormatError, match="shape"):
        DataSplit(split.URM_train, None, split.URM_test[:2], split.user_index, split.info)
    with pytest.raises(SplitFormatError, match="user_index"):
        DataSplit(split.URM_train, None, split.URM_test, np.array([0, 1]), split.info)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(matrix):
        raise OSError("disk full")

    monkeypatch.setattr(split_format, "_csr_npz_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        write_split(tmp_path / "Tiny" / "S", _split())
    assert list((tmp_path / "Tiny").iterdir()) == []


def test_rewrite_replaces_previous(written):
    folder, info = written
    (folder / "URM_test.npz").write_bytes(b"garbage")
    assert write_split(folder, _split()) == info
    assert load_split(folder).info == info


def _replace_with_fresh_checksum(folder, name, content: bytes):
    """Put ``content`` in place of ``name`` and record its sha256, as a hand edit would."""
    (folder / name).write_bytes(content)
    _edit_info(folder, lambda i: i["sha256"].update({name: hashlib.sha256(content).hexdigest()}))


@pytest.mark.parametrize("content, message", [
    (b"user,item,rating\n1,2,3\n", r"URM_test.npz: not a scipy sparse .npz file \(not a zip archive\)"),
    (None, r"URM_test.npz: not a scipy sparse .npz file \("),
])
def test_foreign_matrix_file_is_named_as_such(written, content, message):
    folder, _ = written
    if content is None:  # a zip, but an ordinary numpy .npz rather than a sparse matrix
        import io
        buffer = io.BytesIO()
        np.savez(buffer, values=np.arange(3))
        content = buffer.getvalue()
    _replace_with_fresh_checksum(folder, "URM_test.npz", content)
    with pytest.raises(SplitFormatError, match=message) as error:
        load_split(folder)
    assert "pickled" not in str(error.value)


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(shape=None), "field 'shape' must be a list of two non-negative integers, got null"),
    (lambda i: i.update(shape=[3, "4"]), "field 'shape' must be a list of two non-negative integers"),
    (lambda i: i.update(shape=[3]), "field 'shape' must be a list of two non-negative integers"),
    (lambda i: i["n_interactions"].update(URM_test="3"),
     "field 'n_interactions.URM_test' must be a non-negative integer, got \"3\""),
    (lambda i: i["n_interactions"].update(URM_test=True), "field 'n_interactions.URM_test' must be a non-negative"),
    (lambda i: i.update(params=[]), "field 'params' must be an object, got \\[\\]"),
    (lambda i: i.update(dataset_name=7), "field 'dataset_name' must be a string, got 7"),
    (lambda i: i["sha256"].update({"URM_test.npz": None}), "field 'sha256.URM_test.npz' must be a hex sha256"),
])
def test_split_json_field_of_the_wrong_type_is_named(written, change, message):
    folder, _ = written
    _edit_info(folder, change)
    with pytest.raises(SplitFormatError, match=message) as error:
        load_split(folder)
    assert "\n" not in str(error.value)


def test_split_folder_follows_the_umask(tmp_path):
    """Before: the folder came out 0700 and split.json 0600 (temporary files renamed into place)."""
    previous = os.umask(0o022)
    try:
        folder = split_folder(tmp_path, "Tiny", "DataSplitter_leave_k_out_last")
        write_split(folder, _split())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()} == {
        name: 0o644 for name in ("URM_train.npz", "URM_validation.npz", "URM_test.npz", "user_index.npy", "split.json")}
