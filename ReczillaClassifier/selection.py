"""Which configurations and meta-features the meta-learner uses (the reference's greedy selections).

Both work on training datasets only (``get_alg_feat_selection_data.py`` in the reference):

- ``select_configurations``: greedy coverage. A configuration's value on a dataset is
  ``-100 |score - best| / |best|`` (best over every configuration on that dataset);
  the coverage of a set is, per dataset, the best value of its members; each step adds
  the configuration that maximises the mean coverage over datasets (its sum when every
  mean is undefined; the first in label order on ties).
- ``select_features``: each meta-feature's absolute correlation with each selected
  configuration's metric, every dataset weighted by one over the number of datasets of
  its family; the first feature has the highest correlation with any configuration, each
  next one the largest gain over the best correlation so far of some configuration.
  Features with a missing value on a training dataset are left out.
"""

import numpy as np


class SelectionError(ValueError):
    """Not enough configurations or features to select from."""


def coverage_values(scores: np.ndarray) -> np.ndarray:
    """``-100 |score - best| / |best|`` per dataset (row) and configuration; 0 where score is the best."""
    best = np.nanmax(np.where(np.isnan(scores), -np.inf, scores), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = -100.0 * np.abs((scores - best) / best)
    return np.where(scores == best, 0.0, values)


def select_configurations(scores: np.ndarray, count: int) -> list[int]:
    """Indices (columns of ``scores``, datasets x configurations) of ``count`` configurations."""
    if count > scores.shape[1]:
        raise SelectionError(f"cannot select {count} configurations out of {scores.shape[1]}")
    values = coverage_values(scores)
    selected, candidates = [], list(range(scores.shape[1]))
    coverage = np.full(scores.shape[0], np.nan)
    for _ in range(count):
        trials = np.fmax(coverage[None, :], values[:, candidates].T)  # candidates x datasets
        means = trials.mean(axis=1)  # NaN when a dataset is still uncovered
        if np.isnan(means).all():
            means = np.nansum(trials, axis=1)
        pick = int(np.nanargmax(means))
        selected.append(candidates.pop(pick))
        coverage = trials[pick]
    return selected


def weighted_correlations(features: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlation of each column of ``features`` with ``target`` (NaN: undefined)."""
    w = weights / weights.sum()
    x = features - w @ features
    y = target - w @ target
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ (x * y[:, None])) / np.sqrt((w @ (x * x)) * (w @ (y * y)))


def feature_correlations(features: np.ndarray, scores: np.ndarray, families: np.ndarray) -> np.ndarray:
    """``|corr|`` (features x configurations), family-frequency weighted, over the datasets each configuration has."""
    table = np.zeros((features.shape[1], scores.shape[1]))
    for column in range(scores.shape[1]):
        rows = np.isfinite(scores[:, column])
        if rows.sum() < 2:
            continue
        _, inverse, counts = np.unique(families[rows], return_inverse=True, return_counts=True)
        correlations = weighted_correlations(features[rows], scores[rows, column], 1.0 / counts[inverse])
        table[:, column] = np.nan_to_num(np.abs(correlations), nan=0.0)
    return table


def select_features(features: np.ndarray, scores: np.ndarray, families: np.ndarray, count: int) -> list[int]:
    """Indices (columns of ``features``) of ``count`` meta-features for the configurations in ``scores``."""
    usable = np.flatnonzero(np.isfinite(features).all(axis=0))
    if count > usable.size:
        raise SelectionError(f"cannot select {count} meta-features: {usable.size} have a value on every dataset")
    correlations = feature_correlations(features[:, usable], scores, families)
    selected = [int(np.argmax(correlations.max(axis=1)))]
    while len(selected) < count:
        best_so_far = correlations[selected].max(axis=0)
        gains = (correlations - best_so_far).max(axis=1)
        gains[selected] = -np.inf
        selected.append(int(np.argmax(gains)))
    return [int(usable[i]) for i in selected]
