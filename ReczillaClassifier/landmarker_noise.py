"""What the landmarkers' subsampling noise costs the meta-learner, and whether averaging helps.

    python -m ReczillaClassifier.landmarker_noise META_DATASET SPLITS_DIR [--target_metric NDCG_cut_10]
        [--metamodels xgboost ranker] [--num_algorithms 10] [--num_metafeatures 10] [--out-dir DIR]

The 308 landmarkers of a split come from small models trained on one subsample of 100
users (seed ``LANDMARKER_SEED``). For every dataset of the meta-dataset this computes
them again on the split's training matrix (``SPLITS_DIR/<dataset>/<split>/``) with six
subsample seeds, ``LANDMARKER_SEED + 0..5`` (seed ``+0`` must give the table's values),
caches them in ``DIR/landmarkers.json`` and runs the leave-one-family-out evaluation in
four variants (seed 0 for the learners, no intervals):

- ``reference``: the table as it is;
- ``resampled``: the held-out datasets' landmarkers from another subsample (seed ``+3``):
  what the noise of one subsample costs a new dataset;
- ``averaged``: extra columns ``f_landmarker_mean3__...`` (the reference's columns stay),
  the mean over 3 subsamples: seeds ``+0..2`` for the training datasets, ``+3..5`` (and
  ``+3`` for the reference columns) for the held-out ones, so they are noisy too;
- ``averaged-only``: the averaged columns instead of the reference's landmarkers.

Prints the noise (median relative change of a landmarker between two subsamples) and a
table of mean %Diff per variant and learner; writes ``DIR/landmarker_noise.csv``.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from Data_manager.atomic_files import write_bytes_atomic, write_json_atomic
from Data_manager.cli_errors import CommandLineError, run_cli
from Data_manager.split_format import SplitFormatError, load_split
from Data_manager.text_table import format_table
from Experiment_handler.landmarkers import LANDMARKER_SEED, landmarker_feature_names, landmarker_features
from ReczillaClassifier.evaluate import leave_one_family_out
from ReczillaClassifier.learners import LEARNERS, LearnerUnavailable
from ReczillaClassifier.metadataset import MetaDataset, MetaDatasetError, UnknownMetric, load_metadataset
from ReczillaClassifier.selection import SelectionError

SUBSAMPLES = 6
AVERAGED = 3
AVERAGED_PREFIX = "f_landmarker_mean3__"
CACHE_FILE = "landmarkers.json"


def landmarker_table(meta: MetaDataset, splits_dir: Path, cache_path: Path) -> np.ndarray:
    """Landmarkers per subsample seed offset, dataset and feature (``SUBSAMPLES`` x datasets x 308)."""
    names = landmarker_feature_names()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, json.JSONDecodeError):
        cache = {}
    values = np.empty((SUBSAMPLES, len(meta.datasets), len(names)))
    for d, dataset in enumerate(meta.datasets):
        if dataset not in cache:
            split_dir = splits_dir / dataset
            URM_train = load_split(split_dir).URM_train
            per_seed = [landmarker_features(URM_train, LANDMARKER_SEED + k) for k in range(SUBSAMPLES)]
            cache[dataset] = [[features[name] for name in names] for features in per_seed]
            write_json_atomic(cache_path, cache)
        values[:, d, :] = np.array(cache[dataset], dtype=float)
    return values


def median_relative_change(first: np.ndarray, second: np.ndarray) -> float:
    """Median of ``|a - b| / |a|`` over the entries where ``a`` is not 0."""
    nonzero = first != 0
    return float(np.median(np.abs(first[nonzero] - second[nonzero]) / np.abs(first[nonzero])))


def variants(meta: MetaDataset, landmarkers: np.ndarray) -> dict[str, tuple[MetaDataset, np.ndarray]]:
    """``name -> (meta-dataset with the training features, the held-out datasets' features)``."""
    names = landmarker_feature_names()
    columns = [meta.feature_names.index(name) for name in names]
    resampled = meta.features.copy()
    resampled[:, columns] = landmarkers[3]
    train_mean = landmarkers[:AVERAGED].mean(axis=0)
    held_mean = landmarkers[AVERAGED:2 * AVERAGED].mean(axis=0)
    mean_names = [AVERAGED_PREFIX + name.removeprefix("f_landmarker__") for name in names]
    averaged = dataclasses.replace(meta, feature_names=meta.feature_names + mean_names,
                                   features=np.hstack([meta.features, train_mean]))
    others = [i for i in range(len(meta.feature_names)) if i not in set(columns)]
    averaged_only = dataclasses.replace(meta, feature_names=[meta.feature_names[i] for i in others] + mean_names,
                                        features=np.hstack([meta.features[:, others], train_mean]))
    return {
        "reference": (meta, meta.features),
        "resampled": (meta, resampled),
        "averaged": (averaged, np.hstack([resampled, held_mean])),
        "averaged-only": (averaged_only, np.hstack([meta.features[:, others], held_mean])),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landmarker_noise", description=__doc__.split("\n\n")[0])
    parser.add_argument("meta_dataset")
    parser.add_argument("splits_dir", help="the splits the meta-dataset was measured on (<dataset>/<split>/)")
    parser.add_argument("--target_metric", default="PRECISION_cut_10")
    parser.add_argument("--metamodels", nargs="+", choices=LEARNERS, default=["xgboost", "ranker"])
    parser.add_argument("--num_algorithms", type=int, default=10)
    parser.add_argument("--num_metafeatures", type=int, default=10)
    parser.add_argument("--out-dir", default="landmarker_noise")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    meta = load_metadataset(args.meta_dataset, args.target_metric)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    landmarkers = landmarker_table(meta, Path(args.splits_dir), out / CACHE_FILE)
    columns = [meta.feature_names.index(name) for name in landmarker_feature_names()]
    if not np.allclose(landmarkers[0], meta.features[:, columns], rtol=1e-6, atol=1e-9, equal_nan=True):
        raise CommandLineError("the recomputed landmarkers (seed offset 0) differ from the meta-dataset's: "
                               "other splits or other code")
    print(f"{len(meta.datasets)} datasets; landmarkers of two subsamples differ by a median "
          f"{100 * median_relative_change(landmarkers[0], landmarkers[3]):.1f} % (relative); the mean of 3 "
          f"subsamples and that of 3 others by {100 * median_relative_change(landmarkers[:3].mean(0), landmarkers[3:].mean(0)):.1f} %")
    frames = []
    for name, (variant, held_features) in variants(meta, landmarkers).items():
        result = leave_one_family_out(variant, args.metamodels, args.num_algorithms, args.num_metafeatures, [0],
                                      with_intervals=False, held_features=held_features)
        frames.append(result.assign(variant=name))
    results = pd.concat(frames, ignore_index=True)
    write_bytes_atomic(out / "landmarker_noise.csv", results.to_csv(index=False).encode())
    table = results.groupby(["variant", "method"], sort=False)["percent_diff"].mean().unstack("method")
    rows = [["variant", *[f"%Diff {m}" for m in table.columns]]]
    rows += [[variant, *[f"{v:.1f}" for v in values]] for variant, values in zip(table.index, table.to_numpy())]
    print(format_table(rows))
    print(f"written: {out / 'landmarker_noise.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, usage_errors=(UnknownMetric, SelectionError),
                     errors=(MetaDatasetError, SplitFormatError, LearnerUnavailable)))
