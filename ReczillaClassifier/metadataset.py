"""The meta-dataset as the meta-learner sees it: datasets x configurations, and meta-features.

``load_metadataset(path, target_metric)`` reads ``process_inbox``'s table (CSV, or
Parquet when the name ends in ``.parquet``) and returns a ``MetaDataset``:

- one *dataset* per (``dataset_name``, ``split_name``), with its ``f_*`` meta-features
  and its family (``ReczillaClassifier.dataset_families``);
- one *configuration* per algorithm and hyperparameter values (``param_*``, not the
  search's ``param_seed``), labelled
  ``<alg_name>:<hyperparameters_source>`` as the reference's ``alg_param_name``;
- ``scores[d, c]``: the target metric of configuration ``c`` on dataset ``d``, signed so
  that higher is better (time metrics, ``time_on_*``, are negated), NaN where the
  sample failed or was not run. Several rows of one pair (other ``alg_seed``) are averaged.

The file's sha256 is kept, so a meta-model names the exact table it was trained on.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from Data_manager.atomic_files import file_sha256
from Experiment_handler.result_zip_validation import SEARCH_PARAMS
from ReczillaClassifier.dataset_families import dataset_family

TEST_METRIC_PREFIX = "test_metric_"
TIME_PREFIX = "time_on_"
REQUIRED_COLUMNS = ("dataset_name", "split_name", "alg_name", "hyperparameters_source", "exception")


class MetaDatasetError(ValueError):
    """A meta-dataset file that cannot be used (missing, unreadable, wrong columns)."""


class UnknownMetric(MetaDatasetError):
    """A target metric the meta-dataset has no column for."""


@dataclass(frozen=True)
class Configuration:
    """One algorithm with fixed hyperparameter values."""

    label: str
    alg_name: str
    hyperparameters: dict

    def as_json(self) -> dict:
        return {"label": self.label, "alg_name": self.alg_name, "hyperparameters": self.hyperparameters}


@dataclass
class MetaDataset:
    """Datasets x configurations of one target metric (see the module docstring)."""

    path: str
    sha256: str
    metric: str
    minimize: bool
    datasets: list[str]
    families: np.ndarray
    feature_names: list[str]
    features: np.ndarray
    configurations: list[Configuration]
    scores: np.ndarray

    @property
    def sign(self) -> float:
        """``metric value = sign * score``."""
        return -1.0 if self.minimize else 1.0


def resolve_metric(name: str, columns) -> str:
    """The column of ``name``: ``PRECISION_cut_10``, ``test_metric_PRECISION_cut_10`` or ``time_on_train``."""
    columns = set(columns)
    for candidate in (name, TEST_METRIC_PREFIX + name):
        if candidate in columns and (candidate.startswith(TEST_METRIC_PREFIX) or candidate.startswith(TIME_PREFIX)):
            return candidate
    examples = sorted(c for c in columns if c.startswith(TIME_PREFIX)) + ["PRECISION_cut_10", "NDCG_cut_10"]
    raise UnknownMetric(f"no target metric {name!r} in the meta-dataset; e.g. {', '.join(examples)}")


def read_table(path) -> pd.DataFrame:
    """The meta-dataset table at ``path`` (``.parquet``: Parquet, otherwise CSV)."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except ImportError as error:
        raise MetaDatasetError(f"{path}: reading Parquet needs pyarrow ({error})") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise MetaDatasetError(f"{path}: not a readable meta-dataset table: {' '.join(str(error).split())}") from None


def _plain(value):
    """A JSON value for a table cell: integral floats become ints, numpy scalars Python ones."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    return value


def _hyperparameters(row: dict, param_columns: list[str]) -> dict:
    values = {}
    for column in param_columns:
        value = row[column]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        values[column.removeprefix("param_")] = _plain(value)
    return values


def _configurations(table: pd.DataFrame) -> tuple[list[Configuration], np.ndarray]:
    """The distinct configurations (sorted by label) and each row's configuration index."""
    param_columns = [c for c in table.columns if c.startswith("param_") and c not in SEARCH_PARAMS]
    keys, first = [], {}
    for row in table[["alg_name", "hyperparameters_source", *param_columns]].to_dict("records"):
        hyperparameters = _hyperparameters(row, param_columns)
        key = (row["alg_name"], json.dumps(hyperparameters, sort_keys=True))
        keys.append(key)
        first.setdefault(key, (f"{row['alg_name']}:{row['hyperparameters_source']}", hyperparameters))
    configurations, uses = [], {}
    for key, (label, hyperparameters) in first.items():
        uses[label] = uses.get(label, 0) + 1
        if uses[label] > 1:  # the same source with other values (another param_seed)
            label = f"{label}#{uses[label]}"
        configurations.append(Configuration(label, key[0], hyperparameters))
    order = sorted(range(len(configurations)), key=lambda i: configurations[i].label)
    position = {key: order.index(i) for i, key in enumerate(first)}
    return [configurations[i] for i in order], np.array([position[key] for key in keys], dtype=np.int64)


def load_metadataset(path, target_metric: str) -> MetaDataset:
    """Read the table at ``path`` and arrange it for ``target_metric`` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise MetaDatasetError(f"{path}: no such meta-dataset file")
    table = read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise MetaDatasetError(f"{path}: not a meta-dataset table (no column {', '.join(missing)})")
    metric = resolve_metric(target_metric, table.columns)
    if table.empty:
        raise MetaDatasetError(f"{path}: the meta-dataset has no rows")
    minimize = metric.startswith(TIME_PREFIX)
    feature_names = [c for c in table.columns if c.startswith("f_")]
    dataset_keys = (table["dataset_name"].astype(str) + "/" + table["split_name"].astype(str)).to_numpy()
    datasets = sorted(set(dataset_keys))
    dataset_index = np.searchsorted(datasets, dataset_keys)
    configurations, config_index = _configurations(table)

    values = pd.to_numeric(table[metric], errors="coerce").to_numpy(dtype=float, copy=True)
    values[table["exception"].notna().to_numpy()] = np.nan
    sums = np.zeros((len(datasets), len(configurations)))
    counts = np.zeros_like(sums)
    measured = np.isfinite(values)
    np.add.at(sums, (dataset_index[measured], config_index[measured]), values[measured])
    np.add.at(counts, (dataset_index[measured], config_index[measured]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(counts > 0, sums / counts, np.nan) * (-1.0 if minimize else 1.0)

    first_rows = np.unique(dataset_index, return_index=True)[1]
    features = table[feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)[first_rows]
    dataset_names = table["dataset_name"].astype(str).to_numpy()[first_rows]
    return MetaDataset(
        path=str(path),
        sha256=file_sha256(path),
        metric=metric,
        minimize=minimize,
        datasets=datasets,
        families=np.array([dataset_family(name) for name in dataset_names]),
        feature_names=feature_names,
        features=features,
        configurations=configurations,
        scores=scores,
    )


def best_algorithm_counts(meta: MetaDataset) -> dict[str, int]:
    """How many datasets each algorithm is best on (its best configuration beating every other), most first."""
    counts: dict[str, int] = {}
    for row in meta.scores:
        if np.isfinite(row).any():
            name = meta.configurations[int(np.nanargmax(row))].alg_name
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
