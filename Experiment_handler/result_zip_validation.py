"""Check a result zip against the contract before its content is trusted.

``validate_result_zip(path)`` refuses, with ``ResultZipError`` naming the problem:
members that could escape an extraction folder (``Data_manager.archive_member_safety``)
or appear twice, and then, through the reader of
``Experiment_handler.result_zip``, damaged zips, bad JSON and other schema
versions; finally ``metadata.json`` must have the contract's shape (status,
``search_params`` fields, numeric ``dataset_features``, well-formed samples).
"""

import stat
import zipfile
from numbers import Real
from pathlib import Path

from Data_manager.archive_member_safety import unsafe_member_reason
from Experiment_handler.result_zip import STATUSES, ResultZipError, read_result_metadata

SEARCH_PARAMS = (
    "time", "dataset_name", "split_name", "alg_name", "num_samples", "alg_seed", "param_seed", "cutoff_list",
    "experiment_name", "original_split_path", "time_limit", "exclude_seen", "split_checksum", "ndcg_gain",
)
SAMPLE_KEYS = (
    "sample_number", "hyperparameters_source", "hyperparameters", "time_on_train", "time_on_validation",
    "time_on_test", "result_on_validation", "result_on_test", "exception",
)
_SCALARS = (str, int, float, bool, type(None))


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_entries(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ResultZipError(f"{path}: not a readable zip ({error})") from None
    seen = set()
    for info in infos:
        reason = unsafe_member_reason(info.filename, is_symlink=stat.S_ISLNK(info.external_attr >> 16))
        if reason is None and info.filename in seen:
            reason = f"member {info.filename!r} appears twice"
        if reason:
            raise ResultZipError(f"{path}: {reason}")
        seen.add(info.filename)


def _check_metrics(where: str, result) -> None:
    if result is None:
        return
    if not isinstance(result, dict):
        raise ResultZipError(f"{where}: expected an object of cutoffs or null")
    for cutoff, metrics in result.items():
        if not cutoff.isdigit() or not isinstance(metrics, dict):
            raise ResultZipError(f"{where}: cutoff {cutoff!r} must be a positive integer with an object of metrics")
        for metric, value in metrics.items():
            if not (_is_number(value) or value is None):
                raise ResultZipError(f"{where}[{cutoff}][{metric}]: {value!r} is not a number")


def _check_sample(where: str, sample) -> None:
    if not isinstance(sample, dict):
        raise ResultZipError(f"{where}: a sample must be an object")
    missing = [key for key in SAMPLE_KEYS if key not in sample]
    if missing:
        raise ResultZipError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(sample["sample_number"], int) or isinstance(sample["sample_number"], bool):
        raise ResultZipError(f"{where}.sample_number: {sample['sample_number']!r} is not an integer")
    if not isinstance(sample["hyperparameters_source"], str):
        raise ResultZipError(f"{where}.hyperparameters_source: not a string")
    hyperparameters = sample["hyperparameters"]
    if not isinstance(hyperparameters, dict) or not all(isinstance(v, _SCALARS) for v in hyperparameters.values()):
        raise ResultZipError(f"{where}.hyperparameters: expected an object of plain values")
    for key in ("time_on_train", "time_on_validation", "time_on_test", "time_on_ranking"):
        if not (_is_number(sample.get(key)) or sample.get(key) is None):
            raise ResultZipError(f"{where}.{key}: {sample.get(key)!r} is not a number or null")
    if not isinstance(sample["exception"], (str, type(None))):
        raise ResultZipError(f"{where}.exception: not a string or null")
    _check_metrics(f"{where}.result_on_validation", sample["result_on_validation"])
    _check_metrics(f"{where}.result_on_test", sample["result_on_test"])


def validate_metadata(metadata: dict, where: str = "metadata.json") -> dict:
    """Check the contract's shape of a parsed ``metadata.json``; returns it unchanged."""
    if metadata.get("status") not in STATUSES:
        raise ResultZipError(f"{where}: status {metadata.get('status')!r} is not one of {', '.join(STATUSES)}")
    for key in ("search_params", "environment", "dataset_features"):
        if not isinstance(metadata.get(key), dict):
            raise ResultZipError(f"{where}: {key} is missing or not an object")
    search_params = metadata["search_params"]
    missing = [key for key in SEARCH_PARAMS if key not in search_params]
    if missing:
        raise ResultZipError(f"{where}: search_params lacks {', '.join(missing)}")
    for key, value in search_params.items():
        ok = isinstance(value, _SCALARS) or (
            key == "cutoff_list" and isinstance(value, list) and all(_is_number(c) for c in value)
        )
        if not ok:
            raise ResultZipError(f"{where}: search_params.{key} is not a plain value")
    for name, value in metadata["dataset_features"].items():
        if not name.startswith("f_") or not (_is_number(value) or value is None):
            raise ResultZipError(f"{where}: dataset feature {name!r} must start with 'f_' and be a number")
    samples = metadata.get("samples")
    if not isinstance(samples, list):
        raise ResultZipError(f"{where}: samples is missing or not a list")
    numbers = set()
    for index, sample in enumerate(samples):
        _check_sample(f"{where}: samples[{index}]", sample)
        if sample["sample_number"] in numbers:
            raise ResultZipError(f"{where}: sample_number {sample['sample_number']} appears twice")
        numbers.add(sample["sample_number"])
    return metadata


def validate_result_zip(path) -> dict:
    """The validated ``metadata.json`` of the result zip at ``path``; ``ResultZipError`` otherwise."""
    path = Path(path)
    _check_entries(path)
    return validate_metadata(read_result_metadata(path), where=f"{path}")
