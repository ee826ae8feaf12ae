"""Archive safety and integrity: unsafe members refused, truncated or corrupt files caught, nothing extracted."""

import io
import tarfile
import zipfile

import pytest

from Data_manager.readers.archive import ArchiveError, archive_kind, check_integrity, open_member
from tests.reader_helpers import bz2_bytes, gz_bytes, prepare_from_mirror, tar_bytes, zip_bytes


@pytest.mark.parametrize("name, kind", [
    ("a.zip", "zip"), ("a.tar.gz", "tar:gz"), ("a.tgz", "tar:gz"), ("a.tar.bz2", "tar:bz2"),
    ("a.json.gz", "gz"), ("a.txt.bz2", "bz2"), ("ratings.csv", "plain"),
])
def test_kind_from_name(name, kind):
    assert archive_kind(name) == kind


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_zip_with_unsafe_path_is_refused(tmp_path, member):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"ok.txt": b"1", member: b"2"}))
    with pytest.raises(ArchiveError, match="unsafe member path"):
        check_integrity(path)


def test_zip_symlink_member_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    path = tmp_path / "a.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ArchiveError, match="symbolic link"):
        check_integrity(path)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_tar_link_or_device_member_is_refused(tmp_path, kind):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        info = tarfile.TarInfo("data/out.x")
        info.type, info.linkname = kind, "/etc/passwd"
        archive.addfile(info)
    path = tmp_path / "a.tar.bz2"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ArchiveError, match="link or special file"):
        check_integrity(path)
    with pytest.raises(ArchiveError, match="not a regular file"), open_member(path, "data/out.x"):
        pass


@pytest.mark.parametrize("name, data", [
    ("a.zip", zip_bytes({"x.txt": b"12345" * 1000})),
    ("a.tar.bz2", tar_bytes({"x/out.x": b"1 2 3\n" * 1000}, "bz2")),
    ("a.tgz", tar_bytes({"x.txt.gz": b"1\t2\t3\n" * 1000}, "gz")),
    ("a.json.gz", gz_bytes(b"{}\n" * 1000)),
    ("a.txt.bz2", bz2_bytes(b"1 2 3\n" * 1000)),
])
def test_complete_file_passes_and_truncated_one_fails(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    check_integrity(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        check_integrity(path)


def test_zip_crc_mismatch_is_caught(tmp_path):
    data = bytearray(zip_bytes({"x.txt": b"abcdefgh" * 100}))
    offset = data.index(b"x.txt") + len(b"x.txt") + 5  # inside the compressed bytes of the member
    data[offset] ^= 0xFF
    path = tmp_path / "a.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt"):
        check_integrity(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"")
    with pytest.raises(ArchiveError, match="ratings.csv: empty file"):
        check_integrity(path)


def test_member_lookup_missing_and_ambiguous(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"a/ratings.dat": b"1", "b/ratings.dat": b"2", "c/other.dat": b"3"}))
    with open_member(path, "other.dat") as stream:
        assert stream.read() == b"3"
    with pytest.raises(ArchiveError, match="several members named 'ratings.dat'"), open_member(path, "ratings.dat"):
        pass
    with pytest.raises(ArchiveError, match="no member named 'u.data'"), open_member(path, "u.data"):
        pass


def test_damaged_cached_download_is_fetched_again(data_mirror, tmp_path):
    good = zip_bytes({"ratings.txt": b"1 1 2\n"})
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "filmtrust.zip").write_bytes(good[:-10])
    dataset = prepare_from_mirror(data_mirror, tmp_path, "FilmTrust", {"filmtrust.zip": good})
    assert data_mirror.downloads() == ["filmtrust.zip"]
    assert (downloads / "filmtrust.zip").read_bytes() == good
    assert dataset.URM_all.nnz == 1
