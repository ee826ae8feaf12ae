"""NDCG's gain for count data: binary for counts (finite up to 10^6), 2^rel - 1 for ratings."""

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp

from Data_manager.dataset_format import DatasetFormatError, load_dataset, save_dataset
from Experiment_handler.landmarkers import landmarker_features
from Data_manager.readers import READERS
from Data_manager.split_format import load_split, write_split
from Data_manager.splitters import get_splitter
from Data_manager.synthetic import generate_synthetic
from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator
from Experiment_handler.metrics import ndcg_gain_for
from Experiment_handler.result_zip import read_result_metadata
from Recommenders.base import BaseRecommender
from tests.conftest import run_module

SPLIT = "DataSplitter_leave_k_out_last"


class FixedScores(BaseRecommender):
    def _fit(self, URM_train, scores):
        self.scores_ = np.asarray(scores, dtype=np.float32)

    def _score(self, user_ids):
        return self.scores_[user_ids]


def fitted(scores, n_items):
    """A model ranking by ``scores``, trained on every user's first item (so popularity is defined)."""
    n_users = len(scores)
    train = sp.csr_matrix((np.ones(n_users), (np.arange(n_users), np.zeros(n_users))), shape=(n_users, n_items))
    return FixedScores().fit(train, scores=scores)


def all_values(result):
    return [value for metrics in result.values() for value in metrics.values()]


def test_binary_gain_by_hand_with_counts_up_to_a_million():
    # User 0's test items: 0 (500,000 plays) and 2 (1,000,000); ranked 2, 1, 0.
    test = sp.csr_matrix(np.array([[5e5, 0, 1e6, 0]], dtype=np.float32))
    model = fitted([[1.0, 2.0, 3.0, 0.0]], 4)
    result = Evaluator(test, cutoffs=[1, 3], exclude_seen=False, ndcg_gain="binary").evaluate(model)
    assert result[1]["NDCG"] == pytest.approx(1.0)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert result[3]["NDCG"] == pytest.approx(dcg / idcg)


def test_exponential_gain_refuses_counts_instead_of_returning_nan():
    test = sp.csr_matrix(np.array([[352698.0, 1.0]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"overflows at the value 352698.*binary"):
        Evaluator(test, ndcg_gain="exponential")
    with pytest.raises(ValueError, match="ndcg_gain must be one of"):
        Evaluator(test, ndcg_gain="linear")


def test_every_metric_finite_on_random_counts_up_to_a_million():
    rng = np.random.default_rng(0)
    values = lambda size: rng.integers(1, 10**6 + 1, size)  # noqa: E731 - play counts
    test = sp.random(40, 60, density=0.1, format="csr", random_state=rng, data_rvs=values).astype(np.float32)
    test.data[0] = 1e6
    model = fitted(rng.random((40, 60)), 60)
    result = Evaluator(test, ndcg_gain="binary").evaluate(model)
    assert all(math.isfinite(value) for value in all_values(result))
    assert any(metrics["NDCG"] > 0 for metrics in result.values())


def test_binary_gain_equals_exponential_on_binary_data():
    rng = np.random.default_rng(1)
    test = sp.random(30, 50, density=0.1, format="csr", random_state=rng, data_rvs=np.ones).astype(np.float32)
    model = fitted(rng.random((30, 50)), 50)
    binary, exponential = (Evaluator(test, ndcg_gain=gain).evaluate(model) for gain in ("binary", "exponential"))
    assert binary == exponential
    assert binary[10]["NDCG"] > 0


def test_gain_follows_the_value_kind_of_every_reader():
    kinds = {reader.name: reader.value_kind for reader in READERS}
    assert kinds["LastFM"] == "count"
    assert kinds["Movielens100K"] == "rating"
    assert all(reader.value_kind == "binary" for reader in READERS if reader.is_implicit)
    assert ndcg_gain_for("count") == ndcg_gain_for("binary") == "binary"
    assert ndcg_gain_for("rating") == ndcg_gain_for(None) == "exponential"


def test_landmarkers_are_finite_on_counts():
    rng = np.random.default_rng(2)
    values = lambda size: rng.integers(1, 10**6 + 1, size)  # noqa: E731
    counts = sp.random(60, 80, density=0.15, format="csr", random_state=rng, data_rvs=values).astype(np.float32)
    features = landmarker_features(counts, ndcg_gain="binary")
    assert all(math.isfinite(value) for value in features.values())
    with pytest.raises(ValueError, match="overflows"):
        landmarker_features(counts, ndcg_gain="exponential")


def test_dataset_json_without_value_kind_is_prepared_again(tmp_path):
    folder = save_dataset(generate_synthetic("SyntheticSmall"), tmp_path)
    assert load_dataset(folder).value_kind == "rating"
    metadata = json.loads((folder / "dataset.json").read_text())
    del metadata["value_kind"]
    (folder / "dataset.json").write_text(json.dumps(metadata))
    with pytest.raises(DatasetFormatError, match="value_kind None.*prepare the dataset again"):
        load_dataset(folder)


@pytest.fixture(scope="module")
def count_split(tmp_path_factory):
    """SyntheticSmall's leave-last-out split with its values scaled to counts up to 10^6."""
    dataset = generate_synthetic("SyntheticSmall")
    dataset.URM_all.data *= 200_000  # ratings 1-5 -> counts up to 1,000,000
    dataset.value_kind = "count"
    split = get_splitter(SPLIT)().split(dataset)
    assert split.info["value_kind"] == "count"
    folder = tmp_path_factory.mktemp("counts") / "SyntheticSmall" / SPLIT
    write_split(folder, split)
    assert load_split(folder).URM_test.data.max() == 1e6
    return folder


def experiment_args(split_dir, result_dir):
    return [60, "SyntheticSmall", SPLIT, "TopPop", split_dir, 0, 1, 1, result_dir, "counts", "gs://b/x"]


def test_run_experiment_on_counts_records_the_binary_gain_and_finite_metrics(count_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment", *experiment_args(count_split, tmp_path))
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert metadata["search_params"]["ndcg_gain"] == "binary"
    sample = metadata["samples"][0]
    assert sample["exception"] is None
    for part in ("result_on_validation", "result_on_test"):
        assert [int(cutoff) for cutoff in sample[part]] == DEFAULT_CUTOFFS
        assert all(value is not None and math.isfinite(value) for value in all_values(sample[part]))
        assert sample[part]["50"]["NDCG"] > 0
    landmarker_ndcg = [v for k, v in metadata["dataset_features"].items() if k.endswith("__NDCG")]
    assert len(landmarker_ndcg) == 14 and all(math.isfinite(value) for value in landmarker_ndcg)


def test_old_split_of_counts_without_value_kind_is_refused_before_the_search(count_split, tmp_path):
    old = tmp_path / "split"
    split = load_split(count_split)
    del split.info["value_kind"]
    write_split(old, split)
    result = run_module("Experiment_handler.run_experiment", *experiment_args(old, tmp_path / "result"))
    assert result.returncode == 1
    assert "URM_train: NDCG's exponential gain 2^rel - 1 overflows at the value 1e+06" in result.stderr
    assert "value_kind is None; re-create the split" in result.stderr
    assert not (tmp_path / "result").exists()
