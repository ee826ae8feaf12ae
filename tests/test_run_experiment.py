"""The run_experiment command line end to end on SyntheticSmall."""

import importlib.metadata
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from Experiment_handler.evaluator import DEFAULT_CUTOFFS
from Experiment_handler.metafeatures import load_or_compute_metafeatures
from Experiment_handler.result_zip import read_result_metadata
from tests.conftest import run_module

SPLIT = "DataSplitter_leave_k_out_last"
REPO_HEAD = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True,
                           text=True).stdout.strip() or None
METRICS = {
    "PRECISION", "PRECISION_RECALL_MIN_DEN", "RECALL", "MAP", "MAP_MIN_DEN", "MRR", "NDCG", "F1", "HIT_RATE",
    "ARHR_ALL_HITS", "NOVELTY", "AVERAGE_POPULARITY", "DIVERSITY_MEAN_INTER_LIST", "DIVERSITY_HERFINDAHL",
    "COVERAGE_ITEM", "COVERAGE_ITEM_HIT", "ITEMS_IN_GT", "COVERAGE_USER", "COVERAGE_USER_HIT", "USERS_IN_GT",
    "DIVERSITY_GINI", "SHANNON_ENTROPY",
}
SEARCH_PARAMS = {
    "time", "dataset_name", "split_name", "alg_name", "num_samples", "alg_seed", "param_seed", "cutoff_list",
    "experiment_name", "original_split_path", "time_limit", "exclude_seen", "split_checksum", "ndcg_gain",
}


def experiment_args(split_dir, result_dir, alg="TopPop", samples=3, time_limit=60, dataset="SyntheticSmall",
                    split=SPLIT, alg_seed=0):
    return [time_limit, dataset, split, alg, split_dir, alg_seed, 1, samples, result_dir, "test-exp", "gs://b/x"]


def check_contract(metadata: dict) -> None:
    assert metadata["schema_version"] == 1
    assert metadata["status"] in ("complete", "time_limit", "error")
    assert set(metadata["search_params"]) == SEARCH_PARAMS
    environment = metadata["environment"]
    neural = {"torch", "device"} if metadata["search_params"]["alg_name"].endswith(("Wrapper",)) else set()
    assert set(environment) == {"package_version", "git_commit", "python", "numpy", "scipy", "scikit_learn",
                                "hostname"} | neural
    assert environment["git_commit"] in (REPO_HEAD, f"{REPO_HEAD}+dirty")
    assert environment["scikit_learn"] == importlib.metadata.version("scikit-learn")
    assert isinstance(metadata["dataset_features"], dict)
    for number, sample in enumerate(metadata["samples"]):
        assert sample["sample_number"] == number
        assert sample["hyperparameters_source"] == ("default" if number == 0 else f"random_{number - 1}")
        if sample["exception"] is None:
            for part in ("validation", "test"):
                result = sample[f"result_on_{part}"]
                assert [int(c) for c in result] == DEFAULT_CUTOFFS
                assert all(set(metrics) == METRICS for metrics in result.values())
                assert sample[f"time_on_{part}"] >= 0


@pytest.mark.parametrize("alg", ["TopPop", "Random", "GlobalEffects"])
def test_each_algorithm_end_to_end(small_split, tmp_path, alg):
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path, alg=alg))
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    check_contract(metadata)
    assert metadata["status"] == "complete"
    assert len(metadata["samples"]) == 1  # no hyperparameters: one distinct configuration
    sample = metadata["samples"][0]
    assert sample["exception"] is None
    assert 0 <= sample["result_on_test"]["10"]["NDCG"] <= 1
    with zipfile.ZipFile(tmp_path / "result.zip") as archive:
        assert sorted(archive.namelist()) == ["experiment.log", "metadata.json"]
    assert metadata["search_params"]["exclude_seen"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.log", "result.zip", "run.lock"]  # no journal left


def test_top_pop_beats_random_on_test(small_split, tmp_path):
    ndcg = {}
    for alg in ("TopPop", "Random"):
        assert run_module("Experiment_handler.run_experiment",
                          *experiment_args(small_split, tmp_path / alg, alg=alg)).returncode == 0
        metadata = read_result_metadata(tmp_path / alg / "result.zip")
        ndcg[alg] = metadata["samples"][0]["result_on_test"]["10"]["NDCG"]
    assert ndcg["TopPop"] > 2 * ndcg["Random"]


def test_alg_seed_makes_the_run_reproducible(small_split, tmp_path):
    results = []
    for run, seed in (("a", 4), ("b", 4), ("c", 5)):
        assert run_module("Experiment_handler.run_experiment",
                          *experiment_args(small_split, tmp_path / run, alg="Random", alg_seed=seed)).returncode == 0
        results.append(read_result_metadata(tmp_path / run / "result.zip")["samples"][0]["result_on_test"])
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_exclude_seen_setting_is_recorded(small_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path),
                        env={"RECZILLA_EXCLUDE_SEEN": "0"})
    assert result.returncode == 0, result.stderr
    assert read_result_metadata(tmp_path / "result.zip")["search_params"]["exclude_seen"] is False


def test_failing_sample_is_recorded_and_search_goes_on(small_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path),
                        env={"RECZILLA_MEMORY_LIMIT": "1K"})
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert metadata["status"] == "complete"
    assert metadata["samples"][0]["exception"].startswith("MemoryEstimateExceeded: ")
    assert metadata["samples"][0]["result_on_test"] is None


def test_time_limit_keeps_finished_samples_then_resume_completes(small_split, tmp_path):
    load_or_compute_metafeatures(small_split)  # cached in the split: the 2 s go to the samples
    args = experiment_args(small_split, tmp_path, alg="SlowTopPop", samples=12, time_limit=2)
    result = run_module("tests.slow_algorithm", *args)
    assert result.returncode == 0, result.stderr
    stopped = read_result_metadata(tmp_path / "result.zip")
    check_contract(stopped)
    assert stopped["status"] == "time_limit"
    assert 1 <= len(stopped["samples"]) < 12
    args[0] = 60
    result = run_module("tests.slow_algorithm", *args)
    assert result.returncode == 0, result.stderr
    resumed = read_result_metadata(tmp_path / "result.zip")
    check_contract(resumed)
    assert resumed["status"] == "complete"
    assert len(resumed["samples"]) == 12
    assert resumed["samples"][: len(stopped["samples"])] == stopped["samples"]


def test_resume_refuses_another_experiment(small_split, tmp_path):
    assert run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path)).returncode == 0
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path, alg="Random"))
    assert result.returncode == 1
    assert "alg_name" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    kept = read_result_metadata(tmp_path / "result.zip")
    assert kept["search_params"]["alg_name"] == "TopPop"
    assert kept["status"] == "complete"


def test_wrong_number_of_arguments_prints_usage(tmp_path):
    result = run_module("Experiment_handler.run_experiment", "10", "SyntheticSmall")
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.parametrize(
    "field, value, listed",
    [("dataset", "NoSuchData", "SyntheticSmall"), ("split", "DataSplitter_nope", SPLIT), ("alg", "NoSuchAlg", "TopPop")],
)
def test_unknown_names_list_valid_ones(small_split, tmp_path, field, value, listed):
    result = run_module("Experiment_handler.run_experiment",
                        *experiment_args(small_split, tmp_path / "out", **{field: value}))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and value in lines[0] and listed in lines[0]
    assert not (tmp_path / "out").exists()


def test_reader_suffix_is_accepted(small_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment",
                        *experiment_args(small_split, tmp_path, dataset="SyntheticSmallReader"))
    assert result.returncode == 0, result.stderr
    assert read_result_metadata(tmp_path / "result.zip")["search_params"]["dataset_name"] == "SyntheticSmall"


def damage(folder, how):
    if how == "missing":
        return folder / "does_not_exist"
    if how == "bad_json":
        (folder / "split.json").write_text("{not json")
    elif how == "checksum":
        (folder / "URM_test.npz").write_bytes((folder / "URM_train.npz").read_bytes())
    elif how == "shape":
        info = json.loads((folder / "split.json").read_text())
        info["shape"] = [info["shape"][0] + 1, info["shape"][1]]
        (folder / "split.json").write_text(json.dumps(info))
    return folder


@pytest.mark.parametrize("how", ["missing", "bad_json", "checksum", "shape"])
def test_damaged_split_is_one_clear_line(small_split, tmp_path, how):
    import shutil

    copy = tmp_path / "split"
    shutil.copytree(small_split, copy)
    result = run_module("Experiment_handler.run_experiment",
                        *experiment_args(damage(copy, how), tmp_path / "out"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_debug_shows_traceback(small_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment",
                        *experiment_args(tmp_path / "nowhere", tmp_path / "out"), env={"RECZILLA_DEBUG": "1"})
    assert result.returncode == 1
    assert "Traceback" in result.stderr
