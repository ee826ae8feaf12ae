"""How good a choice of configuration is, per held-out dataset (the reference's ``get_metrics``).

All scores are "higher is better" (time metrics negated, see ``metadataset``):

- ``%Diff`` (the reference's ``perc_diff_from_best_global``, in percent):
  ``100 |best - chosen| / (best - worst)``, best and worst over every configuration
  measured on the dataset (not only the selected ones); undefined (NaN) when they are equal;
- the chosen configuration's true score; a choice that was never measured on the
  dataset counts as its worst score (the reference filled in the mean of the others);
- MAE: the mean absolute error of the predicted scores over the measured selected
  configurations;
- accuracy: whether the choice is the best of the selected configurations.

Baselines: ``best_on_average`` (the configuration with the lowest mean %Diff over the
training datasets, among all configurations) and the random choice among the selected
configurations, whose expected %Diff is the mean over them (no sampling noise).
"""

import numpy as np


def dataset_ranges(all_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per dataset (row): the best and worst measured score over every configuration."""
    return np.nanmax(all_scores, axis=1), np.nanmin(all_scores, axis=1)


def percent_diff(chosen: np.ndarray, best: np.ndarray, worst: np.ndarray) -> np.ndarray:
    """``100 |best - chosen| / (best - worst)``; NaN where ``best == worst``."""
    span = best - worst
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, 100.0 * np.abs(best - chosen) / np.where(span > 0, span, 1.0), np.nan)


def true_scores(all_scores: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``all_scores[d, columns[d]]``, the dataset's worst score where that is not measured."""
    picked = all_scores[np.arange(len(all_scores)), columns]
    return np.where(np.isfinite(picked), picked, dataset_ranges(all_scores)[1])


def choice_outcomes(choice: np.ndarray, predicted: np.ndarray, configs: np.ndarray,
                    all_scores: np.ndarray) -> dict[str, np.ndarray]:
    """Per dataset: %Diff, chosen score, MAE, accuracy of choosing ``configs[choice[d]]``.

    ``predicted``: datasets x selected configurations (scores); ``configs``: the selected
    configurations' columns in ``all_scores`` (datasets x all configurations).
    """
    best, worst = dataset_ranges(all_scores)
    chosen = true_scores(all_scores, configs[choice])
    selected = all_scores[:, configs]
    with np.errstate(invalid="ignore"):
        best_selected = np.nanargmax(np.where(np.isfinite(selected), selected, -np.inf), axis=1)
    return {
        "percent_diff": percent_diff(chosen, best, worst),
        "chosen_score": chosen,
        "mae": np.nanmean(np.abs(predicted - selected), axis=1),
        "accuracy": (choice == best_selected).astype(float),
    }


def best_on_average(train_scores: np.ndarray) -> int:
    """The configuration (column) with the lowest mean %Diff over the training datasets (rows) it was measured on."""
    best, worst = dataset_ranges(train_scores)
    diffs = percent_diff(train_scores, best[:, None], worst[:, None])
    counts = np.isfinite(diffs).sum(axis=0)
    means = np.where(counts > 0, np.nansum(diffs, axis=0) / np.maximum(counts, 1), np.inf)
    return int(np.argmin(means))


def random_choice_percent_diff(configs: np.ndarray, all_scores: np.ndarray) -> np.ndarray:
    """Per dataset, the expected %Diff of a uniformly random choice among ``configs``."""
    best, worst = dataset_ranges(all_scores)
    per_config = [percent_diff(true_scores(all_scores, np.full(len(all_scores), c)), best, worst) for c in configs]
    return np.mean(per_config, axis=0)
