"""Train a RecZilla meta-model, or use one to pick (and train) an algorithm for a new split.

The reference's command line (``ReczillaClassifier/run_reczilla.py``):

    python -m ReczillaClassifier.run_reczilla --train_meta --metamodel_filepath MODEL_DIR \\
        --metadataset_name META.csv [--metamodel_name xgboost|knn|linear|svm-poly|ranker] \\
        [--target_metric PRECISION_cut_10] [--num_algorithms 10] [--num_metafeatures 10]
    python -m ReczillaClassifier.run_reczilla --metamodel_filepath MODEL_DIR \\
        --dataset_split_path SPLIT_DIR [--rec_model_save_path OUT.json]

Training selects the configurations and meta-features on the whole meta-dataset
(``--metadataset_name`` is the path of ``process_inbox``'s CSV or Parquet table, not a
name under ``metadatasets/``), fits the meta-learner and saves it (``metamodel``).
With ``--dataset_split_path`` (after training, or with a saved model) the split's
meta-features are computed (or read from its cache), every selected configuration is
ranked with its predicted metric and calibrated interval, and the first one is trained
on the split's train matrix and evaluated on its validation and test matrices.
``--rec_model_save_path`` writes that result as JSON (algorithm, hyperparameters,
seed, split checksum, metrics): our recommenders have no saved-weights format, and
the same arguments refit the same model.
"""

import argparse
import sys
import time
from pathlib import Path

from Data_manager.atomic_files import write_json_atomic
from Data_manager.cli_errors import UsageError, run_cli
from Data_manager.split_format import SplitFormatError, load_split, split_checksum
from Data_manager.text_table import format_table
from Experiment_handler.evaluator import Evaluator
from Experiment_handler.metafeatures import load_or_compute_metafeatures
from Experiment_handler.run_experiment import exclude_seen_setting
from Recommenders.hyperparameter_space import Integer, Real
from Recommenders.registry import UnknownAlgorithm, get_algorithm
from ReczillaClassifier.learners import LEARNERS, LearnerUnavailable
from ReczillaClassifier.metadataset import TIME_PREFIX, MetaDatasetError, UnknownMetric, load_metadataset
from ReczillaClassifier.metamodel import INTERVAL_QUANTILE, MetaModel, MetaModelError, load_metamodel, \
    save_metamodel, train_metamodel
from ReczillaClassifier.selection import SelectionError

RECOMMENDER_SEED = 0


def typed_hyperparameters(alg_name: str, values: dict) -> dict:
    """``values`` (as read from a table) cast to the types of the algorithm's space."""
    dimensions = get_algorithm(alg_name).space.dimensions
    unknown = sorted(set(values) - set(dimensions))
    if unknown:
        raise MetaModelError(f"{alg_name} has no hyperparameter {', '.join(unknown)}")
    typed = {}
    for name, value in values.items():
        dimension = dimensions.get(name)
        if isinstance(dimension, Integer):
            typed[name] = int(value)
        elif isinstance(dimension, Real):
            typed[name] = float(value)
        else:
            matches = [c for c in dimension.categories if c == value or str(c) == str(value)]
            typed[name] = matches[0] if matches else value
    return typed


def format_value(value: float, interval: float) -> str:
    return f"{value:.4g}" + (f" ± {interval:.2g}" if interval == interval else "")


def ranking_table(ranking: list[dict], metric: str) -> str:
    """One row per configuration in ranking order; a rank-choosing learner's ``rank_score`` gets a column."""
    by_rank = "rank_score" in ranking[0]
    header = ["rank", "configuration", f"predicted {metric} ({INTERVAL_QUANTILE:.0%} interval)"]
    rows = [header + ["rank score (1 best)"] if by_rank else header]
    for k, entry in enumerate(ranking):
        row = [str(k + 1), entry["label"], format_value(entry["predicted"], entry["interval"])]
        rows.append(row + [f"{entry['rank_score']:.3f}"] if by_rank else row)
    return format_table(rows)


def answer_line(ranking: list[dict], metric: str) -> str:
    """``configuration X, predicted M v ± i; the runner-up ...``."""
    first = ranking[0]
    text = f"configuration {first['label']}, predicted {metric} {format_value(first['predicted'], first['interval'])}"
    if len(ranking) > 1:
        second = ranking[1]
        text += f"; the runner-up {second['label']}, {format_value(second['predicted'], second['interval'])}"
    return text


def measured_metric(metric: str, results: dict, times: dict):
    """The chosen configuration's value of ``metric`` from its evaluation ``results`` and ``times``."""
    if metric.startswith(TIME_PREFIX):
        return times.get(metric)
    name, cutoff = metric.removeprefix("test_metric_").rsplit("_cut_", 1)
    return results["test"][int(cutoff)][name]


def train_chosen(model: MetaModel, choice: dict, split_dir: Path) -> dict:
    """Fit the chosen configuration on the split and evaluate it at the metric's cutoff (or the default 10)."""
    split = load_split(split_dir)
    spec = get_algorithm(choice["alg_name"])
    hyperparameters = typed_hyperparameters(choice["alg_name"], choice["hyperparameters"])
    cutoff = int(model.metric.rsplit("_cut_", 1)[1]) if "_cut_" in model.metric else 10
    exclude_seen = exclude_seen_setting()
    start = time.perf_counter()
    recommender = spec.recommender_class(seed=RECOMMENDER_SEED)
    recommender.fit(split.URM_train, **spec.fit_args, **hyperparameters)
    times = {"time_on_train": time.perf_counter() - start}
    results = {}
    for part, matrix, time_name in (("validation", split.URM_validation, "time_on_val"),
                                    ("test", split.URM_test, "time_on_test")):
        if matrix is None:
            continue
        start = time.perf_counter()
        results[part] = Evaluator(matrix, cutoffs=[cutoff], exclude_seen=exclude_seen).evaluate(recommender)
        times[time_name] = time.perf_counter() - start
    return {"alg_name": choice["alg_name"], "label": choice["label"], "hyperparameters": hyperparameters,
            "seed": RECOMMENDER_SEED, "split": str(split_dir), "split_checksum": split_checksum(split.info),
            "cutoff": cutoff, "exclude_seen": exclude_seen, "results": results, "times": times,
            "metric": model.metric, "predicted": choice["predicted"], "interval": choice["interval"],
            "measured": measured_metric(model.metric, results, times)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_reczilla", description="Run RecZilla on a new dataset.")
    parser.add_argument("--train_meta", action="store_true", help="train a new meta-model (instead of loading one)")
    parser.add_argument("--metamodel_filepath", required=True, help="meta-model folder (to save or load)")
    parser.add_argument("--dataset_split_path", help="split folder to choose an algorithm for")
    parser.add_argument("--rec_model_save_path", help="JSON file for the chosen recommender's result")
    parser.add_argument("--metadataset_name", help="meta-dataset table (.csv or .parquet); needed with --train_meta")
    parser.add_argument("--metamodel_name", choices=LEARNERS, default="xgboost")
    parser.add_argument("--target_metric", default="PRECISION_cut_10", help="e.g. NDCG_cut_10 or time_on_train")
    parser.add_argument("--num_algorithms", type=int, default=10)
    parser.add_argument("--num_metafeatures", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="the meta-learner's seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.train_meta:
        if not args.metadataset_name:
            raise UsageError("--train_meta needs --metadataset_name (the meta-dataset table)")
        if args.num_algorithms < 1 or args.num_metafeatures < 1:
            raise UsageError("--num_algorithms and --num_metafeatures must be at least 1")
        meta = load_metadataset(args.metadataset_name, args.target_metric)
        model = train_metamodel(meta, args.metamodel_name, args.num_algorithms, args.num_metafeatures,
                                seed=args.seed)
        save_metamodel(model, args.metamodel_filepath)
        print(f"Metamodel saved to {args.metamodel_filepath} ({model.learner.name}, {meta.metric}, "
              f"{len(model.configurations)} configurations, {len(model.feature_names)} meta-features, "
              f"{len(model.training['datasets'])} training datasets)")
    else:
        if args.rec_model_save_path and not args.dataset_split_path:
            raise UsageError("--rec_model_save_path needs --dataset_split_path")
        print(f"Loading metamodel from {args.metamodel_filepath}")
        model = load_metamodel(args.metamodel_filepath)
    if args.dataset_split_path is None:
        return 0
    split_dir = Path(args.dataset_split_path)
    ranking = model.ranking(load_or_compute_metafeatures(split_dir))
    print(ranking_table(ranking, model.metric))
    print(answer_line(ranking, model.metric))
    outcome = train_chosen(model, ranking[0], split_dir)
    if "validation" in outcome["results"] and not model.metric.startswith(TIME_PREFIX):
        name, cutoff = model.metric.removeprefix("test_metric_").rsplit("_cut_", 1)
        print(f"validation {name}@{cutoff}: {outcome['results']['validation'][int(cutoff)][name]:.4g}")
    print(f"Chosen algorithm: {outcome['label']} (trained in {outcome['times']['time_on_train']:.2f} s); "
          f"predicted {model.metric} {format_value(outcome['predicted'], outcome['interval'])}, "
          f"measured {outcome['measured']:.4g}")
    if args.rec_model_save_path:
        write_json_atomic(args.rec_model_save_path, outcome)
        print(f"result written to {args.rec_model_save_path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, usage_errors=(UnknownMetric, SelectionError, UnknownAlgorithm),
                     errors=(MetaDatasetError, MetaModelError, SplitFormatError, LearnerUnavailable)))
