import json
import tracemalloc
import zipfile

import pytest

from Experiment_handler import result_zip
from Experiment_handler.evaluator import DEFAULT_CUTOFFS
from Experiment_handler.experiment import MAX_EXCEPTION_CHARS
from Experiment_handler.result_zip import (
    MAX_METADATA_BYTES,
    MAX_SAMPLES,
    ResultZipError,
    metadata_json,
    read_result_metadata,
    write_result_zip,
)
from tests.test_run_experiment import METRICS


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


def _zip_with_streamed_member(path, pieces):
    """A zip whose metadata.json is the concatenation of ``pieces`` (bytes), written without holding it whole."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("metadata.json", "w", force_zip64=True) as member:
            for piece in pieces:
                member.write(piece)


def test_whitespace_padding_is_refused_at_bounded_cost(tmp_path):
    """Before: 250 MB of whitespace after a valid object was accepted with 686 MB peak memory."""
    path = tmp_path / "result_padded.zip"
    header = json.dumps(metadata()).encode()
    _zip_with_streamed_member(path, [header] + [b" " * 2**20] * 250)
    tracemalloc.start()
    try:
        with pytest.raises(ResultZipError, match="metadata.json is padded"):
            read_result_metadata(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_oversized_member_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(result_zip, "MAX_METADATA_BYTES", 2**20)
    path = tmp_path / "result_big.zip"
    _zip_with_streamed_member(path, [b'{"schema_version":1,"x":"', b"a" * 2**20, b'"}'])
    with pytest.raises(ResultZipError, match="implausibly large"):
        read_result_metadata(path)


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "result_deep.zip"
    _zip_with_streamed_member(path, [b"[" * 200_000, b"]" * 200_000])
    with pytest.raises(ResultZipError, match="nested too deeply|not valid JSON"):
        read_result_metadata(path)


def test_largest_result_fits_under_the_read_limit():
    """MAX_SAMPLES samples of the largest kind (every value at its longest) are readable."""
    longest = -1.2345678901234567e-300
    metrics = {metric: longest for metric in METRICS}
    result = {str(cutoff): metrics for cutoff in DEFAULT_CUTOFFS}
    sample = {"sample_number": MAX_SAMPLES - 1, "hyperparameters_source": f"random_{MAX_SAMPLES}",
              "hyperparameters": {f"hyperparameter_{i}": longest for i in range(12)},
              "time_on_train": longest, "time_on_validation": longest, "time_on_test": longest,
              "result_on_validation": result, "result_on_test": result, "exception": "E" * MAX_EXCEPTION_CHARS}
    features = {f"f_feature_number_{i}": longest for i in range(400)}
    head = metadata_json(metadata(dataset_features=features, search_params={"original_split_path": "p" * 4096}))
    assert len(head) + MAX_SAMPLES * (len(metadata_json(sample)) + 1) <= MAX_METADATA_BYTES
