"""A trained meta-model: selection + learner + calibrated intervals; saved without pickle.

``train_metamodel`` selects configurations and meta-features on the training datasets,
fits a learner to their scores (missing scores of a dataset filled with the mean of
its others, as the reference's ``get_ordered_target``) and calibrates an interval per
configuration: the 68th percentile of absolute errors on held-out families in a
5-fold family-grouped cross-validation of the same learner on the training data.

A saved meta-model is a folder (written atomically):

- ``metamodel.json``: format and version, target metric, learner and its JSON
  parameters, feature names, configurations (label, algorithm, hyperparameters),
  intervals, the training meta-dataset's path and sha256, the sha256 of every other
  file, and ``checksum``, the sha256 of the rest of the JSON;
- ``arrays.npz``: the learner's numpy arrays (read with ``allow_pickle=False``);
- ``xgboost_link_<k>.json``: XGBoost's own JSON models (XGBoost only).

``load_metamodel`` checks all of this and raises ``MetaModelError`` (one line) on any
mismatch: a tampered, truncated or foreign folder is refused, never half-used.
"""

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from Data_manager.atomic_files import atomic_folder, file_sha256
from Data_manager.version import __version__
from ReczillaClassifier.learners import MetaLearner, make_learner
from ReczillaClassifier.metadataset import Configuration, MetaDataset
from ReczillaClassifier.selection import select_configurations, select_features

FORMAT = "reczilla-metamodel"
SCHEMA_VERSION = 1
MANIFEST = "metamodel.json"
ARRAYS = "arrays.npz"
INTERVAL_QUANTILE = 0.68
CALIBRATION_FOLDS = 5
MAX_MANIFEST_BYTES = 16 << 20


class MetaModelError(ValueError):
    """A meta-model folder that is missing, damaged, tampered with or not a meta-model."""


@dataclass
class MetaModel:
    """What ``run_reczilla`` saves and loads (see the module docstring)."""

    metric: str
    minimize: bool
    learner: MetaLearner
    feature_names: list[str]
    configurations: list[Configuration]
    intervals: list[float]
    training: dict = field(default_factory=dict)

    @property
    def sign(self) -> float:
        return -1.0 if self.minimize else 1.0

    def feature_vector(self, features: dict) -> np.ndarray:
        """The model's features from a ``{name: value}`` mapping, as a 1 x n array."""
        missing = [name for name in self.feature_names if name not in features]
        if missing:
            raise MetaModelError(f"the split's meta-features lack {', '.join(missing[:3])}")
        return np.array([[float(features[name]) for name in self.feature_names]])

    def ranking(self, features: dict) -> list[dict]:
        """Configurations, best choice first: label, algorithm, hyperparameters, predicted metric, interval.

        A learner that chooses by rank adds ``rank_score`` (its predicted place among the
        configurations, 0 the worst, 1 the best), which orders the list; its predicted metric
        values come from a separate model and need not be in the same order.
        """
        X = self.feature_vector(features)
        choice = self.learner.choice_scores(X)[0]
        order = np.argsort(-choice, kind="stable")
        values = self.sign * self.learner.predict(X)[0]
        ranking = []
        for i in order:
            entry = dict(self.configurations[i].as_json(), predicted=float(values[i]), interval=self.intervals[i])
            if self.learner.chooses_by_rank:
                entry["rank_score"] = float(choice[i])
            ranking.append(entry)
        return ranking


def training_targets(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows with at least one score, each missing score filled with its row's mean; and those rows' indices."""
    rows = np.flatnonzero(np.isfinite(scores).any(axis=1))
    Y = scores[rows]
    row_means = np.nanmean(Y, axis=1, keepdims=True)
    return np.where(np.isfinite(Y), Y, row_means), rows


def calibrate(learner_name: str, X: np.ndarray, Y: np.ndarray, measured: np.ndarray, families: np.ndarray,
              seed: int) -> list[float]:
    """Per configuration, the ``INTERVAL_QUANTILE`` of |error| on held-out families (NaN: too few families)."""
    unique = np.unique(families)
    if unique.size < 2:
        return [float("nan")] * Y.shape[1]
    fold_of_family = dict(zip(unique, np.random.default_rng(seed).permutation(unique.size) % CALIBRATION_FOLDS))
    folds = np.array([fold_of_family[f] for f in families])
    errors = np.full(Y.shape, np.nan)
    for fold in np.unique(folds):
        held = folds == fold
        learner = make_learner(learner_name).fit_values(X[~held], Y[~held], seed)
        errors[held] = np.abs(learner.predict(X[held]) - Y[held])
    errors[~measured] = np.nan
    return [float(np.nanquantile(column, INTERVAL_QUANTILE)) if np.isfinite(column).any() else float("nan")
            for column in errors.T]


def train_metamodel(meta: MetaDataset, learner_name: str, num_algorithms: int, num_features: int,
                    train_rows: np.ndarray | None = None, seed: int = 0, with_intervals: bool = True) -> MetaModel:
    """Select, fit and calibrate on ``train_rows`` of ``meta`` (all datasets by default)."""
    rows = np.arange(len(meta.datasets)) if train_rows is None else np.asarray(train_rows)
    configs = select_configurations(meta.scores[rows], num_algorithms)
    scores = meta.scores[np.ix_(rows, configs)]
    Y, kept = training_targets(scores)
    rows = rows[kept]
    features = select_features(meta.features[rows], Y, meta.families[rows], num_features)
    X = meta.features[np.ix_(rows, features)]
    learner = make_learner(learner_name).fit(X, Y, seed)
    intervals = (calibrate(learner_name, X, Y, np.isfinite(scores[kept]), meta.families[rows], seed)
                 if with_intervals else [float("nan")] * len(configs))
    return MetaModel(
        metric=meta.metric,
        minimize=meta.minimize,
        learner=learner,
        feature_names=[meta.feature_names[i] for i in features],
        configurations=[meta.configurations[i] for i in configs],
        intervals=intervals,
        training={"meta_dataset": meta.path, "sha256": meta.sha256, "datasets": [meta.datasets[i] for i in rows],
                  "rows": rows.tolist(), "configuration_indices": configs, "feature_indices": features,
                  "seed": seed},
    )


def metamodel_checksum(manifest: dict) -> str:
    """The sha256 of the manifest without its ``checksum`` field (canonical JSON)."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=True).encode()).hexdigest()


def save_metamodel(model: MetaModel, folder) -> Path:
    """Write ``model`` to ``folder`` atomically (replacing an older one)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    np.savez(buffer, **model.learner.arrays)
    files = {ARRAYS: buffer.getvalue(), **model.learner.blobs()}
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "package_version": __version__,
        "metric": model.metric,
        "minimize": model.minimize,
        "learner": model.learner.name,
        "learner_params": model.learner.params,
        "feature_names": model.feature_names,
        "configurations": [c.as_json() for c in model.configurations],
        "intervals": model.intervals,
        "interval_quantile": INTERVAL_QUANTILE,
        "training": model.training,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    manifest["checksum"] = metamodel_checksum(manifest)
    with atomic_folder(folder) as temp:
        for name, data in files.items():
            (temp / name).write_bytes(data)
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return folder


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise MetaModelError(f"{folder}: not a meta-model folder (no {MANIFEST})")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise MetaModelError(f"{path}: too large for a meta-model manifest")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MetaModelError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MetaModelError(f"{path}: not a RecZilla meta-model")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise MetaModelError(f"{path}: schema version {manifest.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    if manifest.get("checksum") != metamodel_checksum(manifest):
        raise MetaModelError(f"{path}: checksum mismatch (the file was modified)")
    return manifest


def load_metamodel(folder) -> MetaModel:
    """The meta-model saved in ``folder``; ``MetaModelError`` when anything does not check out."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    blobs = {}
    for name, digest in manifest["files"].items():
        path = folder / name
        if "/" in name or not path.is_file():
            raise MetaModelError(f"{folder}: missing file {name}")
        if file_sha256(path) != digest:
            raise MetaModelError(f"{path}: sha256 mismatch (the file was modified)")
        blobs[name] = path.read_bytes()
    try:
        with np.load(io.BytesIO(blobs.pop(ARRAYS)), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        learner = make_learner(manifest["learner"], manifest["learner_params"], arrays)
        learner.load_blobs(blobs)
        configurations = [Configuration(c["label"], c["alg_name"], c["hyperparameters"])
                          for c in manifest["configurations"]]
        model = MetaModel(metric=manifest["metric"], minimize=bool(manifest["minimize"]), learner=learner,
                          feature_names=list(manifest["feature_names"]), configurations=configurations,
                          intervals=[float(v) for v in manifest["intervals"]], training=manifest["training"])
        check = model.learner.predict(np.zeros((1, len(model.feature_names))))
    except MetaModelError:
        raise
    except Exception as error:  # a consistent checksum over inconsistent content: still refused
        raise MetaModelError(f"{folder}: inconsistent meta-model ({type(error).__name__}: {error})") from None
    if check.shape != (1, len(configurations)) or len(model.intervals) != len(configurations):
        raise MetaModelError(f"{folder}: inconsistent meta-model (predictions do not match its configurations)")
    return model
