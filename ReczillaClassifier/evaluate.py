"""Leave-one-family-out evaluation of the meta-learners and two baselines.

    python -m ReczillaClassifier.evaluate META_DATASET [--target_metric PRECISION_cut_10]
        [--num_algorithms 10] [--num_metafeatures 10] [--seeds 3]
        [--metamodels xgboost knn linear svm-poly ranker] [--out-dir DIR]

For every dataset family (``ReczillaClassifier.dataset_families``) and seed, each
meta-learner is trained (selection included) on the other families only and chooses a
configuration for each held-out dataset; the baselines are the configuration best on
average over the training datasets and a random selected configuration (its
expectation). Measures (``ReczillaClassifier.scoring``): %Diff from the best, the
chosen configuration's true metric, MAE, accuracy and the share of true values inside
the calibrated intervals. Writes ``DIR/evaluation.csv`` (one row per family, seed and
method), ``DIR/summary.csv`` and ``DIR/percent_diff.png``, and prints the summary:
per method, the mean over families, and over seeds its mean and standard deviation.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from Data_manager.atomic_files import write_bytes_atomic
from Data_manager.cli_errors import UsageError, run_cli
from Data_manager.text_table import format_table
from ReczillaClassifier.learners import LEARNERS, LearnerUnavailable, make_learner
from ReczillaClassifier.metadataset import (MetaDataset, MetaDatasetError, UnknownMetric, best_algorithm_counts,
                                           load_metadataset)
from ReczillaClassifier.metamodel import train_metamodel
from ReczillaClassifier.scoring import (best_on_average, choice_outcomes, dataset_ranges, percent_diff,
                                        random_choice_percent_diff, true_scores)
from ReczillaClassifier.selection import SelectionError

BASELINES = ("best-on-average", "random")
MEASURES = ("percent_diff", "chosen_metric", "mae", "accuracy", "coverage")


def available_learners() -> list[str]:
    """Every learner whose library is installed (XGBoost is an optional extra)."""
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return [name for name in LEARNERS if name != "xgboost"]
    return list(LEARNERS)


def family_folds(families: np.ndarray):
    """``(family, train_rows, held_rows)`` per family; the two row sets never share a family."""
    for family in np.unique(families):
        held = np.flatnonzero(families == family)
        train = np.flatnonzero(families != family)
        yield str(family), train, held


def _learner_row(meta: MetaDataset, learner: str, train: np.ndarray, held: np.ndarray, options: dict,
                 seed: int, held_features: np.ndarray) -> dict:
    model = train_metamodel(meta, learner, train_rows=train, seed=seed, **options)
    if set(model.training["rows"]) & set(held.tolist()):
        raise AssertionError("a held-out dataset was used for training")  # never: family_folds keeps them apart
    configs = np.array(model.training["configuration_indices"])
    X = held_features[np.ix_(held, model.training["feature_indices"])]
    predicted = model.learner.predict(X)
    choice = np.argmax(model.learner.choice_scores(X), axis=1)
    outcome = choice_outcomes(choice, predicted, configs, meta.scores[held])
    truth = meta.scores[np.ix_(held, configs)]
    inside = np.abs(predicted - truth) <= np.array(model.intervals)[None, :]
    return {
        "percent_diff": np.nanmean(outcome["percent_diff"]),
        "chosen_metric": np.mean(meta.sign * outcome["chosen_score"]),
        "mae": np.nanmean(outcome["mae"]),
        "accuracy": np.mean(outcome["accuracy"]),
        "coverage": inside[np.isfinite(truth)].mean() if np.isfinite(truth).any() else np.nan,
        "configurations": configs,
    }


def leave_one_family_out(meta: MetaDataset, learners: list[str], num_algorithms: int, num_features: int,
                         seeds: list[int], with_intervals: bool = True,
                         held_features: np.ndarray | None = None) -> pd.DataFrame:
    """One row per held-out family, seed and method (learners and baselines) with the ``MEASURES``.

    ``held_features`` (default ``meta.features``): the meta-features the held-out datasets are
    predicted from (to measure what other values of them, e.g. noisier ones, would cost).
    """
    held_features = meta.features if held_features is None else held_features
    options = {"num_algorithms": num_algorithms, "num_features": num_features, "with_intervals": with_intervals}
    rows = []
    for family, train, held in family_folds(meta.families):
        held_scores = meta.scores[held]
        base = best_on_average(meta.scores[train])
        base_scores = true_scores(held_scores, np.full(len(held), base))
        results = {}  # per learner; a learner that ignores the seed is fitted once per family
        for seed in seeds:
            common = {"family": family, "seed": seed, "datasets": len(held)}
            selected = None
            for learner in learners:
                if seed == seeds[0] or make_learner(learner).uses_seed:
                    results[learner] = _learner_row(meta, learner, train, held, options, seed, held_features)
                selected = results[learner]["configurations"]
                rows.append(dict(common, method=learner, **{k: v for k, v in results[learner].items()
                                                             if k != "configurations"}))
            base_diff = percent_diff(base_scores, *dataset_ranges(held_scores))
            rows.append(dict(common, method="best-on-average", percent_diff=np.nanmean(base_diff),
                             chosen_metric=np.mean(meta.sign * base_scores), mae=np.nan, accuracy=np.nan,
                             coverage=np.nan))
            if selected is not None:
                rows.append(dict(common, method="random", percent_diff=np.nanmean(
                    random_choice_percent_diff(selected, held_scores)), chosen_metric=np.nan, mae=np.nan,
                    accuracy=np.nan, coverage=np.nan))
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per method: each measure's mean over families, then mean and standard deviation over seeds."""
    per_seed = results.groupby(["method", "seed"], sort=False)[list(MEASURES)].mean()
    summary = per_seed.groupby(level="method", sort=False).agg(["mean", "std"])
    summary.columns = [f"{measure}_{stat}" for measure, stat in summary.columns]
    return summary.sort_values("percent_diff_mean")


def summary_text(summary: pd.DataFrame, metric: str) -> str:
    """The summary as a text table."""
    def cell(row, measure, digits):
        mean, std = row[f"{measure}_mean"], row[f"{measure}_std"]
        if np.isnan(mean):
            return "-"
        return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if np.isfinite(std) and std > 0 else "")

    table = [["method", "%Diff", f"chosen {metric}", "MAE", "accuracy", "interval coverage"]]
    for method, row in summary.iterrows():
        table.append([method, cell(row, "percent_diff", 1), cell(row, "chosen_metric", 4), cell(row, "mae", 4),
                      cell(row, "accuracy", 2), cell(row, "coverage", 2)])
    return format_table(table)


def plot_percent_diff(results: pd.DataFrame, path: Path, title: str) -> bool:
    """A PNG: %Diff per held-out family (mean over seeds), one marker series per method; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = results.groupby(["family", "method"], sort=False)["percent_diff"].mean().unstack("method")
    order = list(summarise(results).index)
    figure, axes = plt.subplots(figsize=(max(8.0, 0.35 * len(table)), 4.5))
    markers = "os^vDP*Xh"
    for k, method in enumerate(order):
        axes.plot(range(len(table)), table[method].to_numpy(), marker=markers[k % len(markers)], linestyle="",
                  label=f"{method} (mean {table[method].mean():.1f})")
    axes.set_xticks(range(len(table)), table.index, rotation=70, ha="right", fontsize=8)
    axes.set_ylabel("%Diff from the best configuration")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, ncol=2)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temp, dpi=110)
    plt.close(figure)
    temp.replace(path)
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("meta_dataset", help="process_inbox's table (.csv or .parquet)")
    parser.add_argument("--target_metric", default="PRECISION_cut_10")
    parser.add_argument("--num_algorithms", type=int, default=10)
    parser.add_argument("--num_metafeatures", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--metamodels", nargs="+", choices=LEARNERS, help="default: every installed one")
    parser.add_argument("--out-dir", default="evaluation", help="where the CSV and PNG files go")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.seeds < 1 or args.num_algorithms < 1 or args.num_metafeatures < 1:
        raise UsageError("--seeds, --num_algorithms and --num_metafeatures must be at least 1")
    meta = load_metadataset(args.meta_dataset, args.target_metric)
    if np.unique(meta.families).size < 2:
        raise UsageError(f"{args.meta_dataset}: leaving a family out needs at least 2 families")
    learners = args.metamodels or available_learners()
    results = leave_one_family_out(meta, learners, args.num_algorithms, args.num_metafeatures,
                                   list(range(args.seeds)))
    out = Path(args.out_dir)
    summary = summarise(results)
    write_bytes_atomic(out / "evaluation.csv", results.to_csv(index=False).encode())
    write_bytes_atomic(out / "summary.csv", summary.to_csv().encode())
    title = (f"{Path(args.meta_dataset).name}: {meta.metric}, {args.num_algorithms} configurations, "
             f"{args.num_metafeatures} meta-features, {args.seeds} seeds")
    plotted = plot_percent_diff(results, out / "percent_diff.png", title)
    print(f"{len(meta.datasets)} datasets in {np.unique(meta.families).size} families, "
          f"{len(meta.configurations)} configurations; leave one family out, seeds 0-{args.seeds - 1}")
    best = best_algorithm_counts(meta)
    print(f"best algorithm per dataset ({len(best)} distinct): "
          + ", ".join(f"{name} {count}" for name, count in best.items()))
    print(summary_text(summary, meta.metric))
    written = [out / "evaluation.csv", out / "summary.csv"] + ([out / "percent_diff.png"] if plotted else [])
    print(f"written: {', '.join(map(str, written))}"
          + ("" if plotted else " (no plot: matplotlib is not installed, pip install '.[meta]')"))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, usage_errors=(UnknownMetric, SelectionError),
                     errors=(MetaDatasetError, LearnerUnavailable)))
