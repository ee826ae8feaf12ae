"""Models that score with latent factors: ``score(u, j) = user_factors_[u] . item_factors_[j]``."""

import numpy as np

from Recommenders.base import BaseRecommender


class LatentFactorRecommender(BaseRecommender):
    """Scores ``user_factors_[u] . item_factors_[j]`` (float32 arrays set by ``_fit``)."""

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_ids] @ self.item_factors_.T


def latent_factor_memory_bytes(n_users: int, n_items: int, n_interactions: int, num_factors: int,
                               working_copies: float, value_bytes: int = 8) -> int:
    """The base estimate plus ``working_copies`` ``(n_users + n_items) x (num_factors + 10)`` arrays
    of ``value_bytes`` values (float64 unless the solver keeps the split's float32)."""
    return (BaseRecommender.estimate_memory_bytes(n_users, n_items, n_interactions)
            + int(working_copies * (n_users + n_items) * (num_factors + 10) * value_bytes))
