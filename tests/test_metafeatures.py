"""Dataset meta-features: hand-computed values on a tiny matrix, landmarkers, the cache and the CLI."""

import json
import math
import statistics

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats

from Data_manager.split_format import DataSplit, load_split, write_split
from Experiment_handler.landmarkers import LANDMARK_MODELS, landmark_sample, landmarker_feature_names
from Experiment_handler.metafeatures import (
    CACHE_FILE,
    compute_metafeatures,
    load_or_compute_metafeatures,
    metafeature_names,
)
from Experiment_handler.metafeatures_distribution import AGGREGATIONS, distribution_feature_name, distribution_features
from Experiment_handler.metrics import METRICS
from tests.conftest import run_module

# users x items; item 3 has no interaction
TINY = sp.csr_matrix(np.array([[5, 3, 0, 0], [4, 0, 1, 0], [5, 0, 0, 0]], dtype=np.float32))

# The seven distributions of TINY, by hand (kind, pre-aggregation) -> values.
TINY_DISTRIBUTIONS = {
    ("rating", None): [5, 3, 4, 1, 5],
    ("item", "count"): [3, 1, 1, 0],
    ("item", "sum"): [14, 3, 1, 0],
    ("item", "mean"): [14 / 3, 3, 1],  # the cold item has no mean
    ("user", "count"): [2, 2, 1],
    ("user", "sum"): [8, 5, 5],
    ("user", "mean"): [4, 2.5, 5],
}


def test_names_count_and_reference_spelling():
    names = metafeature_names()
    assert len(names) == len(set(names)) == 383
    assert names[:5] == ["f_num_users", "f_num_items", "f_num_interactions", "f_sparsity", "f_item_user_ratio"]
    assert sum(name.startswith("f_dist_feature__") for name in names) == 70
    assert sum(name.startswith("f_landmarker__") for name in names) == 308 == len(landmarker_feature_names())
    for name in ("f_dist_feature__kind_item__pre_agg_func_count__agg_func_mode",
                 "f_dist_feature__kind_rating__pre_agg_func_None__agg_func_Gini",
                 "f_dist_feature__kind_user__pre_agg_func_mean__agg_func_kurtosis",
                 "f_landmarker__alg_top_pop__cut_5__COVERAGE_ITEM_HIT",
                 "f_landmarker__alg_pure_svd_fact5__cut_1__NDCG",
                 "f_landmarker__alg_user_knn_k1__cut_5__SHANNON_ENTROPY"):
        assert name in names


def test_rating_distribution_by_hand():
    # ratings 5, 3, 4, 1, 5: mean 3.6, deviations 1.4 -0.6 0.4 -2.6 1.4
    m2, m3, m4 = 11.2 / 5, -12.24 / 5, 53.536 / 5
    expected = {
        "mean": 3.6, "max": 5, "min": 1, "std": math.sqrt(2.24), "median": 4, "mode": 5,
        # frequencies 1/5 (1, 3, 4) and 2/5 (5)
        "entropy": 3 * 0.2 * math.log2(5) + 0.4 * math.log2(2.5),
        # sorted 1 3 4 5 5 (+1e-7), weights 2i - n - 1 = -4 -2 0 2 4
        "Gini": (-4 * 1 - 2 * 3 + 0 * 4 + 2 * 5 + 4 * 5) / (5 * (18 + 5e-7)),
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / m2**2 - 3,
    }
    features = distribution_features(TINY)
    for aggregation, value in expected.items():
        name = distribution_feature_name("rating", None, aggregation)
        assert features[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert features[distribution_feature_name("rating", None, "kurtosis")] == pytest.approx(-0.8660714285714)


def _brute_force(values: list, aggregation: str) -> float:
    """Independent definitions: statistics / scipy, and Gini as a mean absolute difference."""
    x = np.array(values, dtype=np.float64)
    if aggregation == "Gini":
        y = x - min(x.min(), 0) + 1e-7
        return sum(abs(a - b) for a in y for b in y) / (2 * len(y) ** 2 * y.mean())
    if aggregation == "mode":
        return min(statistics.multimode(values))
    if aggregation == "entropy":
        return scipy.stats.entropy(np.unique(x, return_counts=True)[1], base=2)
    if aggregation in ("skewness", "kurtosis") and x.std() == 0:
        return 0.0 if aggregation == "skewness" else -3.0
    return {
        "mean": statistics.fmean, "max": max, "min": min, "median": statistics.median,
        "std": statistics.pstdev, "skewness": scipy.stats.skew, "kurtosis": scipy.stats.kurtosis,
    }[aggregation](values)


@pytest.mark.parametrize("kind, pre_aggregation", sorted(TINY_DISTRIBUTIONS, key=str))
def test_each_distribution_feature_by_hand(kind, pre_aggregation):
    features = distribution_features(TINY)
    for aggregation in AGGREGATIONS:
        name = distribution_feature_name(kind, pre_aggregation, aggregation)
        expected = _brute_force(TINY_DISTRIBUTIONS[(kind, pre_aggregation)], aggregation)
        assert features[name] == pytest.approx(expected, rel=1e-10, abs=1e-12), name


def test_constant_distribution_moments_follow_the_reference():
    implicit = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
    features = distribution_features(implicit)
    assert features[distribution_feature_name("rating", None, "skewness")] == 0.0
    assert features[distribution_feature_name("rating", None, "kurtosis")] == -3.0
    assert features[distribution_feature_name("rating", None, "entropy")] == 0.0
    assert features[distribution_feature_name("item", "count", "mode")] == 1.0  # counts 1 2 1


def test_basic_features_by_hand():
    features = compute_metafeatures(sp.random(30, 40, density=0.1, random_state=3, format="csr"))
    assert features["f_num_users"] == 30 and features["f_num_items"] == 40
    assert features["f_num_interactions"] == 120
    assert features["f_sparsity"] == pytest.approx(1 - 120 / 1200)
    assert features["f_item_user_ratio"] == pytest.approx(40 / 30)
    assert list(features) == metafeature_names()
    assert all(isinstance(value, (int, float)) and math.isfinite(value) for value in features.values())


def _random_urm(seed: int, n_users=400, n_items=600, density=0.03) -> sp.csr_matrix:
    urm = sp.random(n_users, n_items, density=density, random_state=seed, format="csr", dtype=np.float32)
    urm.data = np.ceil(urm.data * 5)
    return urm


def test_landmark_sample_shape():
    urm = _random_urm(0)
    train, test = landmark_sample(urm, seed=7)
    assert train.shape == test.shape
    n_users, n_items = train.shape
    assert n_users == 100
    assert 250 <= n_items < urm.shape[1]  # 2 items per user, topped up to 250
    assert np.all(np.diff(test.indptr) == 1)  # one held-out interaction per user
    assert np.all(np.diff(train.indptr) >= 1)
    assert train.multiply(test).nnz == 0
    assert train.nnz + test.nnz == (train + test).nnz


def test_landmarkers_deterministic_for_a_seed():
    urm = _random_urm(1)
    first, again, other = (compute_metafeatures(urm, seed=seed) for seed in (5, 5, 6))
    assert first == again
    landmarkers = [name for name in first if name.startswith("f_landmarker__")]
    assert any(first[name] != other[name] for name in landmarkers)
    for model in LANDMARK_MODELS:
        for cutoff in (1, 5):
            for metric in METRICS:
                assert math.isfinite(first[f"f_landmarker__alg_{model}__cut_{cutoff}__{metric}"])
    # the sampled users each hold one test item: every evaluated user counts
    assert first["f_landmarker__alg_top_pop__cut_1__USERS_IN_GT"] == pytest.approx(1.0)


def test_landmarkers_reject_degenerate_matrices():
    with pytest.raises(ValueError, match="at least 6 items"):
        compute_metafeatures(sp.csr_matrix(np.ones((4, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match="at least 2 training interactions"):
        compute_metafeatures(sp.csr_matrix(np.eye(8, dtype=np.float32)))


def test_cache_written_reused_and_invalidated(small_split, tmp_path):
    folder = tmp_path / "split"
    split = load_split(small_split)
    write_split(folder, split)
    features = load_or_compute_metafeatures(folder)
    assert list(features) == metafeature_names()
    assert features == compute_metafeatures(split.URM_train)
    cache = json.loads((folder / CACHE_FILE).read_text())
    assert cache["features"] == features

    cache["features"]["f_num_users"] = -1.0  # a marker: a cache hit returns it
    (folder / CACHE_FILE).write_text(json.dumps(cache))
    assert load_or_compute_metafeatures(folder)["f_num_users"] == -1.0

    smaller = DataSplit(  # the same split without its last user: other checksums
        *(m[:-1] for m in (split.URM_train, split.URM_validation, split.URM_test)), split.user_index[:-1], split.info)
    write_split(folder, smaller)
    (folder / CACHE_FILE).write_text(json.dumps(cache))  # the stale cache is still there
    recomputed = load_or_compute_metafeatures(folder)
    assert recomputed["f_num_users"] == split.URM_train.shape[0] - 1
    assert json.loads((folder / CACHE_FILE).read_text())["features"] == recomputed

    (folder / CACHE_FILE).write_text("{damaged")
    assert load_or_compute_metafeatures(folder) == recomputed
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_cli_prints_the_features(small_split, tmp_path):
    folder = tmp_path / "split"
    write_split(folder, load_split(small_split))
    result = run_module("Experiment_handler.metafeatures", folder)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert list(printed) == metafeature_names()
    assert printed == json.loads((folder / CACHE_FILE).read_text())["features"]

    missing = run_module("Experiment_handler.metafeatures", tmp_path / "nowhere")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "no such split folder" in missing.stderr
