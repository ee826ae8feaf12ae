"""Models that ignore who the user is: TopPop, Random, GlobalEffects."""

import numpy as np
import scipy.sparse as sp

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import BaseRecommender
from Recommenders.matrix_products import column_counts


class TopPop(BaseRecommender):
    """Score of item ``i`` = number of training users who interacted with ``i``."""

    def _fit(self, URM_train: sp.csr_matrix) -> None:
        self.item_popularity_ = column_counts(URM_train).astype(np.float32)

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_popularity_, (user_ids.size, self.n_items_)).copy()


class Random(BaseRecommender):
    """Uniform random scores, reproducible: the scores of user ``u`` depend only on ``(seed, u)``."""

    def _fit(self, URM_train: sp.csr_matrix) -> None:
        pass

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        scores = np.empty((user_ids.size, self.n_items_), dtype=np.float32)
        for row, user in enumerate(user_ids):
            scores[row] = np.random.default_rng([self.seed, int(user)]).random(self.n_items_, dtype=np.float32)
        return scores


class GlobalEffects(BaseRecommender):
    """Baseline rating predictor ``mu + b_u + b_i`` with shrunk biases.

    ``mu`` is the mean stored rating; ``b_i = sum_u (r_ui - mu) / (n_i + lambda_item)``;
    ``b_u = sum_i (r_ui - mu - b_i) / (n_u + lambda_user)`` (``n_*``: interaction
    counts). Ranking for a user is by ``b_i``, the other terms being constant per user.
    """

    def _fit(self, URM_train: sp.csr_matrix, lambda_user: float = 10.0, lambda_item: float = 25.0) -> None:
        data = URM_train.data.astype(np.float64)
        self.global_mean_ = float(data.mean()) if data.size else 0.0
        residual = data - self.global_mean_
        item_counts = np.bincount(URM_train.indices, minlength=URM_train.shape[1])
        item_sums = np.bincount(URM_train.indices, weights=residual, minlength=URM_train.shape[1])
        self.item_bias_ = (item_sums / (item_counts + lambda_item)).astype(np.float32)
        residual -= self.item_bias_[URM_train.indices]
        user_counts = np.diff(URM_train.indptr)
        user_of_entry = np.repeat(np.arange(URM_train.shape[0]), user_counts)
        user_sums = np.bincount(user_of_entry, weights=residual, minlength=URM_train.shape[0])
        self.user_bias_ = (user_sums / (user_counts + lambda_user)).astype(np.float32)

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """The larger of the base estimate (scoring) and the fit's per-interaction arrays (float64
        values and residuals, int64 user numbers, bincount's int64 copies of the item indices:
        measured 30.8 bytes per interaction at MovieLens-20M size), which never coexist."""
        return max(super().estimate_memory_bytes(n_users, n_items, n_interactions), 36 * n_interactions)

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        # float32 throughout (``global_mean_`` is a Python float): the sum is the only score block
        return (self.global_mean_ + self.user_bias_[user_ids, None] + self.item_bias_[None, :]).astype(
            np.float32, copy=False)


ALGORITHM_SPECS = [
    AlgorithmSpec("TopPop", TopPop, max_points=1),
    AlgorithmSpec("GlobalEffects", GlobalEffects, max_points=1),
    AlgorithmSpec("Random", Random, max_points=1),
]
