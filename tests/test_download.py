"""download(): mirrors, retries with back-off, resume with Range, checksums, verification, atomic placement."""

import hashlib

import pytest

from Data_manager import download as download_module
from Data_manager.download import DownloadError, Source, check_link, download
from Data_manager.readers.archive import check_integrity

DATA = bytes(range(256)) * 40  # 10240 bytes


def _fetch(folder, source=None, **options):
    options = {"retries": 0, "backoff": 0, "progress": False, **options}
    return download(source or Source("data.bin", "http://unused.example/data.bin"), folder, **options)


def _leftovers(folder):
    """Files left in ``folder``, partial ones included (as ``.partial/<name>``)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_mirror_replaces_every_url_by_base_and_file_name(monkeypatch):
    source = Source("ratings data.csv", "http://host/a.csv", mirrors=("http://other/a.csv",))
    monkeypatch.delenv("RECZILLA_DATA_MIRROR", raising=False)
    assert source.urls() == ["http://host/a.csv", "http://other/a.csv"]
    monkeypatch.setenv("RECZILLA_DATA_MIRROR", "http://127.0.0.1:9/base/")
    assert source.urls() == ["http://127.0.0.1:9/base/ratings%20data.csv"]


@pytest.mark.parametrize("filename", ["", "a/b.zip", "../b.zip", ".hidden"])
def test_source_file_name_must_be_plain(filename):
    with pytest.raises(ValueError, match="plain file name"):
        Source(filename, "http://host/x")


def test_download_streams_to_final_name_with_known_checksum(data_mirror, tmp_path):
    data_mirror.files["data.bin"] = DATA
    sha256 = hashlib.sha256(DATA).hexdigest()
    source = Source("data.bin", "http://unused.example/data.bin", sha256=sha256, size=len(DATA))
    path = _fetch(tmp_path, source)
    assert path == tmp_path / "data.bin" and path.read_bytes() == DATA
    assert _leftovers(tmp_path) == ["data.bin"]
    assert _fetch(tmp_path, source) == path and data_mirror.downloads() == ["data.bin"]  # present: not fetched again


def test_404_fails_at_once_and_leaves_nothing(data_mirror, tmp_path):
    with pytest.raises(DownloadError, match=r"data\.bin: HTTP 404 Not Found"):
        _fetch(tmp_path, retries=3)
    assert data_mirror.downloads() == ["data.bin"] and _leftovers(tmp_path) == []


def test_transient_error_is_retried_with_exponential_back_off(data_mirror, tmp_path, monkeypatch):
    data_mirror.files["data.bin"] = DATA
    data_mirror.faults["data.bin"] = "500"
    delays = []
    monkeypatch.setattr(download_module.time, "sleep", delays.append)
    with pytest.raises(DownloadError, match="HTTP 500"):
        _fetch(tmp_path, retries=3, backoff=0.5)
    assert delays == [0.5, 1.0, 2.0]
    assert data_mirror.downloads() == ["data.bin"] * 4


def test_dropped_connection_resumes_with_range_in_the_same_run(data_mirror, tmp_path):
    data_mirror.files["data.bin"] = DATA
    data_mirror.faults["data.bin"] = "drop_once"
    assert _fetch(tmp_path, retries=1).read_bytes() == DATA
    assert [request[2] for request in data_mirror.requests] == [None, f"bytes={len(DATA) // 2}-"]


def test_dropped_connection_keeps_the_part_and_the_next_run_resumes(data_mirror, tmp_path):
    data_mirror.files["data.bin"] = DATA
    data_mirror.faults["data.bin"] = "drop_once"
    with pytest.raises(DownloadError, match=f"connection dropped after {len(DATA) // 2} of {len(DATA)} bytes"):
        _fetch(tmp_path)
    assert _leftovers(tmp_path) == [".partial/data.bin"]
    assert _fetch(tmp_path).read_bytes() == DATA
    assert data_mirror.requests[-1][2] == f"bytes={len(DATA) // 2}-"
    assert _leftovers(tmp_path) == ["data.bin"]


def test_server_without_ranges_makes_the_next_run_start_over(data_mirror, tmp_path):
    data_mirror.files["data.bin"] = DATA
    data_mirror.faults["data.bin"] = "drop_once"
    with pytest.raises(DownloadError):
        _fetch(tmp_path)
    data_mirror.faults["data.bin"] = "no_range"
    assert _fetch(tmp_path).read_bytes() == DATA


def test_partial_file_longer_than_the_source_is_discarded(data_mirror, tmp_path):
    data_mirror.files["data.bin"] = DATA
    (tmp_path / ".partial").mkdir()
    (tmp_path / ".partial" / "data.bin").write_bytes(b"x" * (len(DATA) + 5))
    assert _fetch(tmp_path, retries=1).read_bytes() == DATA


@pytest.mark.parametrize("field, value, message", [
    ("sha256", "0" * 64, "checksum mismatch"),
    ("size", len(DATA) + 1, rf"data\.bin: size mismatch \({len(DATA)} bytes, expected {len(DATA) + 1}\)"),
])
def test_checksum_or_size_mismatch_removes_the_file(data_mirror, tmp_path, field, value, message):
    data_mirror.files["data.bin"] = DATA
    with pytest.raises(DownloadError, match=message):
        _fetch(tmp_path, Source("data.bin", "http://unused.example/data.bin", **{field: value}))
    assert _leftovers(tmp_path) == []


def test_verification_failure_is_reported_and_removes_the_file(data_mirror, tmp_path):
    data_mirror.files["data.zip"] = b"PK\x03\x04 not really a zip"
    data_mirror.files["empty.csv"] = b""
    with pytest.raises(DownloadError, match=r"data\.zip: corrupt or truncated zip file"):
        _fetch(tmp_path, Source("data.zip", "http://unused.example/data.zip"), verify=check_integrity)
    with pytest.raises(DownloadError, match=r"empty\.csv: empty file"):
        _fetch(tmp_path, Source("empty.csv", "http://unused.example/empty.csv"), verify=check_integrity)
    assert _leftovers(tmp_path) == []


def test_next_url_is_tried_and_manual_instructions_end_the_error(data_mirror, tmp_path, monkeypatch):
    monkeypatch.delenv("RECZILLA_DATA_MIRROR")
    data_mirror.files["copy.bin"] = DATA
    base = data_mirror.base_url
    source = Source("data.bin", f"{base}/gone.bin", mirrors=(f"{base}/copy.bin",))
    assert _fetch(tmp_path, source).read_bytes() == DATA
    lost = Source("lost.bin", f"{base}/gone.bin", mirrors=(f"{base}/also-gone.bin",), manual="Ask the authors.")
    expected = r"gone\.bin: HTTP 404 .*; .*also-gone\.bin: HTTP 404 Not Found\. Ask the authors\.$"
    with pytest.raises(DownloadError, match=expected):
        _fetch(tmp_path, lost)


def test_unreachable_host_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RECZILLA_DATA_MIRROR", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(DownloadError, match="cannot connect"):
        _fetch(tmp_path, timeout=5)


def test_check_link(data_mirror):
    data_mirror.files["data.bin"] = DATA
    assert check_link(f"{data_mirror.base_url}/data.bin") is None
    assert check_link(f"{data_mirror.base_url}/missing.bin") == "HTTP 404 Not Found"
    assert [request[0] for request in data_mirror.requests] == ["HEAD", "HEAD"]
