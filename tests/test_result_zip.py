import json
import zipfile

import pytest

from Experiment_handler.result_zip import ResultZipError, read_result_metadata, write_result_zip


def metadata(**extra):
    return {"schema_version": 1, "status": "complete", "samples": [], **extra}


def test_round_trip_with_log(tmp_path):
    path = tmp_path / "result.zip"
    write_result_zip(path, metadata(search_params={"alg_name": "TopPop"}), "a log line\n")
    assert read_result_metadata(path)["search_params"] == {"alg_name": "TopPop"}
    with zipfile.ZipFile(path) as archive:
        assert archive.read("experiment.log") == b"a log line\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.zip"]  # no temporary file left


def test_undefined_values_become_null(tmp_path):
    path = tmp_path / "result.zip"
    write_result_zip(path, metadata(values=[float("nan"), float("inf"), 0.5]))
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("metadata.json").decode()
    assert "NaN" not in raw and "Infinity" not in raw
    assert json.loads(raw)["values"] == [None, None, 0.5]


def test_unknown_status_refused(tmp_path):
    with pytest.raises(ValueError, match="status"):
        write_result_zip(tmp_path / "r.zip", metadata(status="running"))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip", "not a readable zip"),
        ({"other.json": "{}"}, "no metadata.json"),
        ({"metadata.json": "{bad"}, "not valid JSON"),
        ({"metadata.json": json.dumps({"schema_version": 2})}, "schema_version 2"),
    ],
)
def test_damaged_or_foreign_zips(tmp_path, content, message):
    path = tmp_path / "result.zip"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in content.items():
                archive.writestr(name, text)
    with pytest.raises(ResultZipError, match=message):
        read_result_metadata(path)
