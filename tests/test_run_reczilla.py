"""run_reczilla end to end: train a meta-model, choose for a built-in split, train and evaluate the choice."""

import json

import pytest

from Data_manager.split_format import load_split
from Experiment_handler.evaluator import Evaluator
from Experiment_handler.metafeatures import load_or_compute_metafeatures, metafeature_names
from Recommenders.registry import get_algorithm
from ReczillaClassifier.metamodel import load_metamodel
from ReczillaClassifier.run_reczilla import ranking_table, typed_hyperparameters
from tests.conftest import run_module
from tests.metalearner_helpers import synthetic_table


@pytest.fixture(scope="module")
def meta_csv(tmp_path_factory):
    """A toy meta-dataset with the real meta-feature names (values drawn at random)."""
    path = tmp_path_factory.mktemp("reczilla") / "meta.csv"
    table = synthetic_table(metafeature_names()[:40], n_datasets=8)
    table.to_csv(path, index=False)
    return path


def test_typed_hyperparameters_follow_the_space():
    typed = typed_hyperparameters("ItemKNNCF_cosine", {"topK": 5.0, "shrink": 50, "normalize": "True",
                                                       "feature_weighting": "BM25"})
    assert typed == {"topK": 5, "shrink": 50, "normalize": True, "feature_weighting": "BM25"}
    assert type(typed["topK"]) is int and type(typed["normalize"]) is bool
    assert get_algorithm("ItemKNNCF_cosine").space.dimensions["topK"].contains(typed["topK"])


def test_train_then_choose_train_and_evaluate_on_a_split(meta_csv, small_split, tmp_path):
    model_dir, out = tmp_path / "model", tmp_path / "chosen.json"
    trained = run_module("ReczillaClassifier.run_reczilla", "--train_meta", "--metamodel_filepath", model_dir,
                         "--metadataset_name", meta_csv, "--metamodel_name", "knn", "--num_algorithms", 2,
                         "--num_metafeatures", 3)
    assert trained.returncode == 0, trained.stderr
    assert f"Metamodel saved to {model_dir}" in trained.stdout
    result = run_module("ReczillaClassifier.run_reczilla", "--metamodel_filepath", model_dir,
                        "--dataset_split_path", small_split, "--rec_model_save_path", out)
    assert result.returncode == 0, result.stderr

    model = load_metamodel(model_dir)
    ranking = model.ranking(load_or_compute_metafeatures(small_split))
    first, second = ranking[0], ranking[1]
    assert (f"configuration {first['label']}, predicted test_metric_PRECISION_cut_10 {first['predicted']:.4g} ± "
            f"{first['interval']:.2g}; the runner-up {second['label']}") in result.stdout
    chosen = json.loads(out.read_text())
    assert chosen["label"] == first["label"] and chosen["alg_name"] == first["alg_name"]

    # the reported test metric is what an independent fit and evaluation of that configuration gives
    split = load_split(small_split)
    spec = get_algorithm(chosen["alg_name"])
    recommender = spec.recommender_class(seed=0).fit(split.URM_train, **spec.fit_args,
                                                     **typed_hyperparameters(chosen["alg_name"],
                                                                             first["hyperparameters"]))
    expected = Evaluator(split.URM_test, cutoffs=[10]).evaluate(recommender)[10]["PRECISION"]
    assert chosen["measured"] == pytest.approx(expected, rel=1e-12)
    assert chosen["split_checksum"] and chosen["results"]["validation"]["10"]["PRECISION"] >= 0
    assert f"measured {expected:.4g}" in result.stdout


def test_time_metric_is_chosen_by_its_minimum(meta_csv, tmp_path):
    model_dir = tmp_path / "model"
    trained = run_module("ReczillaClassifier.run_reczilla", "--train_meta", "--metamodel_filepath", model_dir,
                         "--metadataset_name", meta_csv, "--metamodel_name", "linear", "--target_metric",
                         "time_on_train", "--num_algorithms", 3, "--num_metafeatures", 2)
    assert trained.returncode == 0, trained.stderr
    model = load_metamodel(model_dir)
    ranking = model.ranking(dict.fromkeys(model.feature_names, 0.0))
    predicted = [entry["predicted"] for entry in ranking]
    assert model.minimize and predicted[0] == min(predicted)  # the fastest first, in seconds


@pytest.mark.parametrize("args, code, message", [
    (["--train_meta", "--metamodel_filepath", "m"], 2, "--train_meta needs --metadataset_name"),
    (["--metamodel_filepath", "m", "--rec_model_save_path", "x.json"], 2, "needs --dataset_split_path"),
    (["--train_meta", "--metamodel_filepath", "m", "--metadataset_name", "META", "--target_metric", "NOPE_cut_1"],
     2, "no target metric 'NOPE_cut_1'"),
    (["--train_meta", "--metamodel_filepath", "m", "--metadataset_name", "META", "--num_algorithms", 9],
     2, "cannot select 9 configurations out of 3"),
    (["--metamodel_filepath", "no-such-model"], 1, "not a meta-model folder"),
])
def test_bad_command_lines_fail_with_one_line(meta_csv, tmp_path, args, code, message):
    args = [str(meta_csv) if a == "META" else str(tmp_path / a) if a in ("m", "no-such-model") else a for a in args]
    result = run_module("ReczillaClassifier.run_reczilla", *args)
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "m").exists()


def test_unknown_hyperparameters_are_refused():
    from ReczillaClassifier.metamodel import MetaModelError

    with pytest.raises(MetaModelError, match="TopPop has no hyperparameter seed"):
        typed_hyperparameters("TopPop", {"seed": 0})


def test_ranker_table_is_ordered_by_its_rank_scores(meta_csv, tmp_path):
    model_dir = tmp_path / "model"
    trained = run_module("ReczillaClassifier.run_reczilla", "--train_meta", "--metamodel_filepath", model_dir,
                         "--metadataset_name", meta_csv, "--metamodel_name", "ranker", "--num_algorithms", 3,
                         "--num_metafeatures", 3)
    assert trained.returncode == 0, trained.stderr
    model = load_metamodel(model_dir)
    ranking = model.ranking(dict.fromkeys(model.feature_names, 0.0))
    scores = [entry["rank_score"] for entry in ranking]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    table = ranking_table(ranking, model.metric).splitlines()
    assert "rank score (1 best)" in table[0]
    assert [line.split()[-1] for line in table[1:]] == [f"{s:.3f}" for s in scores]
    assert "rank score" not in ranking_table([{k: v for k, v in e.items() if k != "rank_score"} for e in ranking],
                                             model.metric)
