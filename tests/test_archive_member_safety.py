"""One member-safety check for downloaded archives and result zips: the same names refused by both."""

import io
import stat
import zipfile

import pytest

from Data_manager.archive_member_safety import unsafe_member_reason
from Data_manager.readers.archive import ArchiveError, check_integrity
from Experiment_handler.result_zip import ResultZipError
from Experiment_handler.result_zip_validation import validate_result_zip

UNSAFE = [
    ("/etc/evil", "has an absolute path"),
    ("\\evil", "has an absolute path"),
    ("C:/evil", "has an absolute path"),
    ("c:evil", "has an absolute path"),
    ("../evil", "leaves the extraction folder"),
    ("a/../../evil", "leaves the extraction folder"),
    ("a\\..\\evil", "leaves the extraction folder"),
]
SAFE = ["metadata.json", "data/ratings.csv", "a/./b", "..hidden/file", "dir/"]


@pytest.mark.parametrize("name,reason", UNSAFE)
def test_unsafe_names_give_their_reason(name, reason):
    assert reason in unsafe_member_reason(name)


@pytest.mark.parametrize("name", SAFE)
def test_safe_names_pass(name):
    assert unsafe_member_reason(name) is None


def test_symlinks_and_empty_names_are_unsafe():
    assert "symlink" in unsafe_member_reason("link", is_symlink=True)
    assert "empty" in unsafe_member_reason("")
    assert "empty" in unsafe_member_reason("//")


def _zip_with(tmp_path, name: str, symlink: bool = False):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", "{}")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"x")
    path = tmp_path / "result.zip"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("name,symlink", [*((name, False) for name, _ in UNSAFE), ("link", True)])
def test_downloads_and_result_zips_refuse_the_same_members(tmp_path, name, symlink):
    path = _zip_with(tmp_path, name, symlink)
    expected = unsafe_member_reason(name, is_symlink=symlink)
    with pytest.raises(ArchiveError) as download_error:
        check_integrity(path)
    with pytest.raises(ResultZipError) as result_error:
        validate_result_zip(path)
    assert expected in str(download_error.value) and expected in str(result_error.value)
