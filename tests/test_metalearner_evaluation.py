"""The meta-dataset arrangement, the selections, %Diff and the baselines (hand-computed), leave-one-family-out."""

import numpy as np
import pandas as pd
import pytest

from ReczillaClassifier import evaluate
from ReczillaClassifier.dataset_families import dataset_family
from ReczillaClassifier.metadataset import UnknownMetric, best_algorithm_counts, load_metadataset
from ReczillaClassifier.scoring import (best_on_average, choice_outcomes, percent_diff, random_choice_percent_diff,
                                        true_scores)
from ReczillaClassifier.selection import (SelectionError, select_configurations, select_features,
                                          weighted_correlations)
from tests.conftest import run_module
from tests.metalearner_helpers import CONFIGS, synthetic_table, table_row

FEATURES = {"f_a": 1.0, "f_b": 2.0}


@pytest.fixture
def tiny_csv(tmp_path):
    rows = [
        table_row("D1", CONFIGS[0], 0.1, FEATURES),
        table_row("D1", CONFIGS[1], 0.3, FEATURES),
        table_row("D1", CONFIGS[2], 0.2, FEATURES),
        table_row("D1", CONFIGS[2], 0.4, FEATURES, alg_seed=1),  # a second seed: averaged with 0.2
        table_row("Movielens1MReader", CONFIGS[0], 0.5, {"f_a": 3.0, "f_b": 4.0}, time_on_train=9.0),
        table_row("Movielens1MReader", CONFIGS[1], 0.9, {"f_a": 3.0, "f_b": 4.0}, exception="ValueError: x",
                  time_on_train=2.0),
    ]
    path = tmp_path / "meta.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_metadataset_arrangement(tiny_csv):
    meta = load_metadataset(tiny_csv, "PRECISION_cut_10")
    assert meta.metric == "test_metric_PRECISION_cut_10" and not meta.minimize
    assert meta.datasets == ["D1/DataSplitter_leave_k_out_last", "Movielens1MReader/DataSplitter_leave_k_out_last"]
    assert list(meta.families) == ["D1", "Movielens"]
    labels = [c.label for c in meta.configurations]
    assert labels == ["ItemKNNCF_cosine:default", "ItemKNNCF_cosine:random_0", "TopPop:default"]
    assert meta.configurations[1].hyperparameters == {"topK": 100, "shrink": 10, "normalize": False,
                                                      "feature_weighting": "BM25"}
    # D1: 0.3, mean(0.2, 0.4), 0.1; Movielens1M: failed sample -> NaN, never run -> NaN, 0.5
    np.testing.assert_allclose(meta.scores, [[0.3, 0.3, 0.1], [np.nan, np.nan, 0.5]])
    np.testing.assert_array_equal(meta.features, [[1.0, 2.0], [3.0, 4.0]])
    assert best_algorithm_counts(meta) == {"ItemKNNCF_cosine": 1, "TopPop": 1}


def test_time_metric_is_minimised(tiny_csv):
    meta = load_metadataset(tiny_csv, "time_on_train")
    assert meta.minimize and meta.sign == -1.0
    assert meta.scores[1, 2] == -9.0 and np.isnan(meta.scores[1, 0])  # failed sample's time is not a result


def test_unknown_metric_and_parquet(tiny_csv, tmp_path):
    with pytest.raises(UnknownMetric, match="NDCG_cut_10"):
        load_metadataset(tiny_csv, "NOPE_cut_3")
    parquet = tmp_path / "meta.parquet"
    pd.read_csv(tiny_csv).to_parquet(parquet)
    a, b = load_metadataset(tiny_csv, "PRECISION_cut_10"), load_metadataset(parquet, "PRECISION_cut_10")
    np.testing.assert_array_equal(a.scores, b.scores)
    assert [c.as_json() for c in a.configurations] == [c.as_json() for c in b.configurations]


def test_families_follow_the_reference_and_the_registry():
    from Data_manager.datasets import DATASETS

    assert dataset_family("AmazonBooksReader") == dataset_family("AmazonWine") == "Amazon"
    assert dataset_family("MovielensHetrec2011Reader") == "Movielens" and dataset_family("YahooMusic") == "Yahoo"
    assert dataset_family("MarketBiasAmazon") == "MarketBiasAmazon" and dataset_family("SyntheticZoo03") == "SyntheticZoo03"
    for name, entry in DATASETS.items():  # the registry's families of the downloaded datasets agree
        if entry.sources:
            assert dataset_family(name) == entry.family, name


def test_percent_diff_and_outcomes_by_hand():
    all_scores = np.array([[0.1, 0.3, 0.2], [0.1, np.nan, 0.2], [0.2, 0.2, 0.2]])
    configs = np.array([0, 1, 2])
    np.testing.assert_allclose(percent_diff(np.array([0.2]), np.array([0.3]), np.array([0.1])), [50.0])
    predicted = np.full((3, 3), 0.2)
    outcome = choice_outcomes(np.array([2, 1, 0]), predicted, configs, all_scores)
    # row 0 picks 0.2 of [0.1, 0.3]: 50 %; row 1 picks an unmeasured one: its worst, 100 %; row 2: undefined
    np.testing.assert_allclose(outcome["percent_diff"], [50.0, 100.0, np.nan])
    np.testing.assert_allclose(outcome["chosen_score"], [0.2, 0.1, 0.2])
    np.testing.assert_allclose(outcome["mae"], [0.2 / 3, 0.05, 0.0])
    np.testing.assert_array_equal(outcome["accuracy"], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(true_scores(all_scores, np.array([1, 1, 1])), [0.3, 0.1, 0.2])
    # random among all three on row 0: (100 + 0 + 50) / 3
    np.testing.assert_allclose(random_choice_percent_diff(configs, all_scores[:1]), [50.0])


def test_best_on_average_by_hand():
    train = np.array([[0.1, 0.3, 0.2], [0.4, 0.2, 0.1], [0.1, 0.2, 0.4]])
    # mean %Diff: (100 + 0 + 100) / 3, (0 + 66.7 + 66.7) / 3 = 44.4, (50 + 100 + 0) / 3 = 50
    assert best_on_average(train) == 1
    assert best_on_average(np.array([[np.nan, 0.1, 0.2], [np.nan, 0.3, 0.1]])) == 1  # 50 vs 50: first


def test_greedy_configuration_selection_by_hand():
    scores = np.array([[1.0, 0.5, 0.9], [0.5, 1.0, 0.9]])
    # coverage values: [[0, -50, -10], [-50, 0, -10]]; C first (mean -10), then A and B tie at -5: A
    assert select_configurations(scores, 2) == [2, 0]
    assert select_configurations(scores, 3) == [2, 0, 1]
    with pytest.raises(SelectionError):
        select_configurations(scores, 4)


def test_weighted_correlation_and_feature_selection():
    rng = np.random.default_rng(1)
    x, y, w = rng.normal(size=(8, 2)), rng.normal(size=8), rng.uniform(0.1, 1, size=8)
    expected = [np.cov(x[:, j], y, aweights=w)[0, 1] / np.sqrt(np.cov(x[:, j], aweights=w)
                                                               * np.cov(y, aweights=w)) for j in range(2)]
    np.testing.assert_allclose(weighted_correlations(x, y, w), expected)
    target = rng.normal(size=(10, 2))
    features = np.column_stack([target[:, 1] * 2 + 0.01 * rng.normal(size=10), rng.normal(size=10),
                                -target[:, 0], np.r_[np.nan, rng.normal(size=9)]])
    families = np.array([f"F{i}" for i in range(10)])
    assert select_features(features, target, families, 2) in ([2, 0], [0, 2])
    with pytest.raises(SelectionError, match="3 have a value"):
        select_features(features, target, families, 4)


def test_leave_one_family_out_never_trains_on_the_held_out_family(tmp_path, monkeypatch):
    path = tmp_path / "meta.csv"
    synthetic_table(["f_x", "f_y", "f_z"], n_datasets=6).to_csv(path, index=False)
    meta = load_metadataset(path, "PRECISION_cut_10")
    calls = []
    real = evaluate.train_metamodel

    def spy(meta_, learner, train_rows, **options):
        model = real(meta_, learner, train_rows=train_rows, **options)
        calls.append((np.asarray(train_rows), np.asarray(model.training["rows"])))
        return model

    monkeypatch.setattr(evaluate, "train_metamodel", spy)
    results = evaluate.leave_one_family_out(meta, ["linear"], 2, 2, [0, 1], with_intervals=False)
    families = sorted(set(meta.families))
    assert len(families) == 7 and len(calls) == 7  # Movielens100K and Movielens1M are one family
    for family, (train_rows, used_rows) in zip(families, calls):
        held = np.flatnonzero(meta.families == family)
        assert not set(train_rows) & set(held) and not set(used_rows) & set(held)
        assert set(train_rows) | set(held) == set(range(len(meta.datasets)))
        assert set(used_rows) <= set(train_rows)
    assert set(results["method"]) == {"linear", "best-on-average", "random"}
    assert len(results) == 7 * 2 * 3
    assert results["percent_diff"].between(0, 100).all()


def test_evaluate_command(tmp_path):
    path = tmp_path / "meta.csv"
    synthetic_table(["f_x", "f_y", "f_z"], n_datasets=8).to_csv(path, index=False)
    out = tmp_path / "eval"
    result = run_module("ReczillaClassifier.evaluate", path, "--num_algorithms", 2, "--num_metafeatures", 2,
                        "--seeds", 2, "--metamodels", "linear", "knn", "--out-dir", out)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("method"))
    assert "%Diff" in header and "MAE" in header
    for method in ("linear", "knn", "best-on-average", "random"):
        assert any(line.startswith(method + " ") for line in result.stdout.splitlines()), method
    assert (out / "percent_diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out / "evaluation.csv")
    assert set(table["seed"]) == {0, 1} and table["family"].nunique() == 9
    bad = run_module("ReczillaClassifier.evaluate", path, "--target_metric", "NOPE_cut_1")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    missing = run_module("ReczillaClassifier.evaluate", tmp_path / "none.csv")
    assert missing.returncode == 1 and "no such meta-dataset file" in missing.stderr
