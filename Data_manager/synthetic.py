"""Seeded synthetic datasets with the shape of real explicit-feedback data.

The generative model, for ``n_users`` users, ``n_items`` items and a target of
``n_interactions`` interactions:

- item popularity follows a power law, ``pop_i ∝ (rank_i + 1) ** -popularity_exponent``,
  ranks being a random permutation of the item indices;
- each user belongs to one of ``n_groups`` taste groups; group ``g`` has an affinity
  ``A[g, i] ~ N(0, 1)`` for every item, and picks items with probability
  ``∝ pop_i * exp(affinity_strength * A[g, i])`` (so user profiles share structure
  beyond popularity);
- user activity is log-normal (``sigma = activity_sigma``), scaled to the target total,
  at least 3 and at most ``n_items // 3`` distinct items per user (no repeated pair);
- rating ``r_ui = clip(round(3.2 + b_u + b_i + 0.8 * A[g(u), i] + e), 1, 5)`` with
  ``b_u ~ N(0, 0.4)``, ``b_i ~ N(0, 0.5)``, ``e ~ N(0, 0.6)``, on the configuration's
  ``rating_scale``: ``1-5`` as written, ``1-10`` (the same latent value stretched to
  ten levels), ``0.5-5`` (half stars) or ``implicit`` (every interaction 1.0);
- timestamps (int64 seconds, 2015-01-01 to 2020-01-01): user ``u`` joins at a time
  skewed towards the end of the window (the platform grows), stays active for a
  log-normal span (median one year), and interacts at uniform times inside that span.

The same configuration (and so the same name) gives byte-identical arrays.

``SYNTHETIC_ZOO`` holds 30 further configurations, ``SyntheticZoo01`` to
``SyntheticZoo30``: a family of small datasets that differ in size, density,
popularity skew, strength and number of taste groups, user activity and rating
scale, drawn once from a fixed seed, so that the best algorithm differs between
them (the meta-learner's built-in training data).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from Data_manager.dataset_format import Dataset

MIN_USER_INTERACTIONS = 3
_WINDOW_START = 1_420_070_400  # 2015-01-01T00:00:00Z
_WINDOW_SECONDS = 5 * 365 * 86_400
_DAY = 86_400
RATING_SCALES = ("1-5", "1-10", "0.5-5", "implicit")


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes, seed and shape parameters of one synthetic dataset."""

    n_users: int
    n_items: int
    n_interactions: int
    seed: int
    n_groups: int = 8
    popularity_exponent: float = 0.9
    affinity_strength: float = 1.0
    activity_sigma: float = 1.0
    rating_scale: str = "1-5"

    def __post_init__(self):
        if self.rating_scale not in RATING_SCALES:
            raise ValueError(f"rating_scale must be one of {', '.join(RATING_SCALES)}, not {self.rating_scale!r}")
        if self.n_items < 3 * MIN_USER_INTERACTIONS or self.n_users < 1:
            raise ValueError(f"synthetic data needs at least 1 user and {3 * MIN_USER_INTERACTIONS} items")
        if not MIN_USER_INTERACTIONS * self.n_users <= self.n_interactions <= self.n_users * (self.n_items // 3):
            raise ValueError(
                f"n_interactions={self.n_interactions} is outside [{MIN_USER_INTERACTIONS} * n_users, "
                f"n_users * (n_items // 3)]"
            )


SYNTHETIC_CONFIGS: dict[str, SyntheticConfig] = {
    "SyntheticSmall": SyntheticConfig(n_users=300, n_items=200, n_interactions=6_000, seed=11, activity_sigma=0.8),
    "Synthetic": SyntheticConfig(n_users=2_000, n_items=1_000, n_interactions=60_000, seed=12),
    "SyntheticLarge": SyntheticConfig(n_users=20_000, n_items=8_000, n_interactions=1_000_000, seed=13),
}


def _zoo_configs(n_members: int = 30, seed: int = 2026) -> dict[str, SyntheticConfig]:
    """``SyntheticZoo01``...: sizes, density and shape parameters drawn log-/uniformly from ``seed``.

    Users 150-1,000, items 80-600, density 1-8 % (at least 6 interactions per user),
    popularity exponent 0.1-1.6, affinity 0-2.5, 2-40 taste groups, activity sigma
    0.3-1.6; the rating scales take turns.
    """
    rng = np.random.default_rng(seed)
    configs = {}
    for member in range(n_members):
        n_users = int(np.exp(rng.uniform(np.log(150), np.log(1_000))))
        n_items = int(np.exp(rng.uniform(np.log(80), np.log(600))))
        density = np.exp(rng.uniform(np.log(0.01), np.log(0.08)))
        low, high = 2 * MIN_USER_INTERACTIONS * n_users, n_users * (n_items // 3)  # landmarkers need users with 2+ train items
        configs[f"SyntheticZoo{member + 1:02d}"] = SyntheticConfig(
            n_users=n_users,
            n_items=n_items,
            n_interactions=int(np.clip(density * n_users * n_items, low, high)),
            seed=1_000 + member,
            popularity_exponent=round(rng.uniform(0.1, 1.6), 2),
            affinity_strength=round(rng.uniform(0.0, 2.5), 2),
            n_groups=int(np.exp(rng.uniform(np.log(2), np.log(40)))),
            activity_sigma=round(rng.uniform(0.3, 1.6), 2),
            rating_scale=RATING_SCALES[member % len(RATING_SCALES)],
        )
    return configs


SYNTHETIC_ZOO: dict[str, SyntheticConfig] = _zoo_configs()


def _user_activity(rng: np.random.Generator, config: SyntheticConfig) -> np.ndarray:
    """Distinct items per user: log-normal, scaled to the target total, within [3, n_items // 3]."""
    raw = rng.lognormal(0.0, config.activity_sigma, config.n_users)
    spare = config.n_interactions - MIN_USER_INTERACTIONS * config.n_users
    counts = MIN_USER_INTERACTIONS + np.floor(raw / raw.sum() * spare).astype(np.int64)
    return np.minimum(counts, config.n_items // 3)


def _sample_items(rng: np.random.Generator, counts: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sorted keys ``user * n_items + item``: ``counts[u]`` distinct items per user, drawn by group weights.

    Draws with replacement (twice the missing number), keeps the first draws of
    each new item, and repeats for the users still short of their count.
    """
    n_items = weights.shape[1]
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    chosen = np.empty(0, dtype=np.int64)
    missing = counts.copy()
    while missing.any():
        users = np.repeat(np.arange(counts.size), 2 * missing)
        items = np.empty(users.size, dtype=np.int64)
        draws = rng.random(users.size)
        user_groups = groups[users]
        for group in range(cdf.shape[0]):
            in_group = user_groups == group
            items[in_group] = np.searchsorted(cdf[group], draws[in_group], side="right")
        keys = users * n_items + np.minimum(items, n_items - 1)
        still_short = chosen[missing[chosen // n_items] > 0]
        keys = keys[~np.isin(keys, still_short)]
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # distinct, still grouped by user in draw order
        key_users = keys // n_items
        group_start = np.searchsorted(key_users, key_users, side="left")
        keep = np.arange(keys.size) - group_start < missing[key_users]
        chosen = np.concatenate([chosen, keys[keep]])
        missing -= np.bincount(key_users[keep], minlength=counts.size)
    return np.sort(chosen)


def _timestamps(rng: np.random.Generator, rows: np.ndarray, n_users: int) -> np.ndarray:
    """Per interaction: the user's join time plus a uniform offset inside the user's active span."""
    window_end = _WINDOW_START + _WINDOW_SECONDS
    join = _WINDOW_START + (_WINDOW_SECONDS * rng.beta(2.0, 1.0, n_users)).astype(np.int64)
    span = np.minimum(rng.lognormal(np.log(365 * _DAY), 1.0, n_users), window_end - join)
    span = np.maximum(span.astype(np.int64), 3_600)  # at least one hour
    return join[rows] + (rng.random(rows.size) * span[rows]).astype(np.int64)


def _on_scale(latent: np.ndarray, rating_scale: str) -> np.ndarray:
    """Latent 1-5 ratings rounded to the levels of ``rating_scale`` (float32)."""
    if rating_scale == "1-10":
        ratings = np.clip(np.rint(1 + (latent - 1) * 9 / 4), 1, 10)
    elif rating_scale == "0.5-5":
        ratings = np.clip(np.rint(2 * latent) / 2, 0.5, 5)
    elif rating_scale == "implicit":
        ratings = np.ones_like(latent)
    else:
        ratings = np.clip(np.rint(latent), 1, 5)
    return ratings.astype(np.float32)


def generate_synthetic(name: str, config: SyntheticConfig | None = None) -> Dataset:
    """The synthetic dataset ``name`` (a key of ``SYNTHETIC_CONFIGS`` unless ``config`` is given)."""
    if config is None:
        try:
            config = {**SYNTHETIC_CONFIGS, **SYNTHETIC_ZOO}[name]
        except KeyError:
            raise KeyError(f"no synthetic configuration {name!r}; known: "
                           f"{', '.join([*SYNTHETIC_CONFIGS, *SYNTHETIC_ZOO])}") from None
    rng = np.random.default_rng(config.seed)
    n_users, n_items = config.n_users, config.n_items

    popularity = (rng.permutation(n_items) + 1.0) ** -config.popularity_exponent
    affinity = rng.standard_normal((config.n_groups, n_items))
    weights = popularity * np.exp(config.affinity_strength * affinity)
    groups = rng.integers(0, config.n_groups, n_users)

    keys = _sample_items(rng, _user_activity(rng, config), groups, weights)
    rows, cols = keys // n_items, keys % n_items

    user_bias = rng.normal(0.0, 0.4, n_users)
    item_bias = rng.normal(0.0, 0.5, n_items)
    noise = rng.normal(0.0, 0.6, keys.size)
    ratings = 3.2 + user_bias[rows] + item_bias[cols] + 0.8 * affinity[groups[rows], cols] + noise
    ratings = _on_scale(ratings, config.rating_scale)
    timestamps = _timestamps(rng, rows, n_users)

    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_users))])
    indices = cols.astype(np.int32)
    shape = (n_users, n_items)
    return Dataset(
        name=name,
        URM_all=sp.csr_matrix((ratings, indices, indptr), shape=shape),
        user_ids=[str(u) for u in range(n_users)],
        item_ids=[str(i) for i in range(n_items)],
        URM_timestamp=sp.csr_matrix((timestamps, indices.copy(), indptr.copy()), shape=shape),
        is_implicit=config.rating_scale == "implicit",
    )
