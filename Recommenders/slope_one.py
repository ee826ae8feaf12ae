"""SlopeOne (Lemire and Maclachlan, 2005) on explicit ratings (kernels: ``Recommenders._rating_models``).

Prediction, as scikit-surprise defines it (the reference wrapped ``surprise.SlopeOne``):

    r_hat(u, i) = mu_u + (1 / |R_i(u)|) sum_{j in R_i(u)} dev(i, j),
    dev(i, j) = (1 / |U_ij|) sum_{v in U_ij} (r_vi - r_vj),

``mu_u`` being the mean rating of ``u``, ``U_ij`` the users who rated both ``i`` and ``j``, and
``R_i(u)`` the items ``j`` rated by ``u`` with ``U_ij`` non-empty (``r_hat = mu_u`` when it is
empty). As in the reference wrapper, a user without training ratings gets the item's mean
rating, or the global mean for an item without ratings.

Memory: ``dev`` (float32) and the ``U_ij``-non-empty flags (uint8) are dense ``n_items x n_items``
arrays, 5 bytes per item pair; the estimate includes them, so a catalogue too large for the
budget is refused with ``MemoryEstimateExceeded`` before anything is allocated (the published
RecZilla data lost many SlopeOne runs to out-of-memory crashes instead).

Differences from the reference: ratings are used as floats (scikit-surprise truncated them to
integers when computing ``dev``), and pairs are counted in double precision.
"""

import numpy as np
import scipy.sparse as sp

from Recommenders._rating_models import slope_one_deviations, slope_one_scores
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import BaseRecommender
from Recommenders.hyperparameter_space import HyperparameterSpace
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.memory import huge_page_allowance
from Recommenders.threads import configured_threads, kernel_threads


def profile_means(URM: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Mean stored rating per row, and whether the row has any (mean 0 where not). The sums are
    float64, in stored order (a product with float64 ones: its only temporary is a float64 copy
    of the values, 8 bytes per interaction)."""
    counts = np.diff(URM.indptr)
    sums = URM @ np.ones(URM.shape[1])
    return sums / np.maximum(counts, 1), counts > 0


def by_item_temporaries_bytes(n_interactions: int) -> int:
    """What a fit that reads the ratings by item and takes ``profile_means`` holds for a while: the
    CSC copy's int32 indices and float32 values and the means' float64 copy of the values (16 bytes
    per interaction), with a huge page for each of those arrays."""
    return n_interactions * 16 + huge_page_allowance(4 * n_interactions, 4 * n_interactions, 8 * n_interactions)


class SlopeOne(BaseRecommender):
    """SlopeOne rating predictor (see the module docstring)."""

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """``dev`` and the flags (5 bytes per item pair, and their huge pages), per-thread row
        buffers and per-row arrays (int64 row pointers, the means' float64 sums, counts and
        quotients, the kept mean and flag: 41 bytes), + the larger of the fit's temporaries (the
        ratings by item and the profile means' float64 copy of the values: 16 bytes per
        interaction, and their huge pages) and the base estimate (the evaluation, after ``fit``
        has returned those to the system)."""
        pairs = 5 * n_items * n_items + huge_page_allowance(4 * n_items * n_items, n_items * n_items)
        buffers = configured_threads() * n_items * 12
        per_row = (n_users + n_items) * 41
        fit_temporaries = by_item_temporaries_bytes(n_interactions)
        evaluation = super().estimate_memory_bytes(n_users, n_items, n_interactions)
        return pairs + buffers + per_row + max(fit_temporaries, evaluation)

    def _fit(self, URM_train):
        n_items = URM_train.shape[1]
        by_item = URM_train.tocsc()
        by_item.sort_indices()
        self.user_mean_, self.known_user_ = profile_means(URM_train)
        self.item_mean_, self.known_item_ = profile_means(by_item.T.tocsr())
        self.global_mean_ = float(URM_train.data.mean()) if URM_train.nnz else 0.0
        self.dev_ = np.empty((n_items, n_items), dtype=np.float32)
        self.related_ = np.empty((n_items, n_items), dtype=np.uint8)
        slope_one_deviations(
            *kernel_csr_arrays(by_item), by_item.data, *kernel_csr_arrays(URM_train), URM_train.data,
            self.dev_, self.related_, kernel_threads(np.square(np.diff(URM_train.indptr)).sum() + n_items * n_items),
        )

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        URM = self.URM_train_
        scores = np.empty((user_ids.size, self.n_items_), dtype=np.float32)
        slope_one_scores(*kernel_csr_arrays(URM), user_ids.astype(np.int64),
                         self.user_mean_, self.dev_, self.related_, scores,
                         kernel_threads(np.diff(URM.indptr)[user_ids].sum() * self.n_items_))
        cold = ~self.known_user_[user_ids]
        scores[cold] = np.where(self.known_item_, self.item_mean_, self.global_mean_)
        return scores


ALGORITHM_SPECS = [AlgorithmSpec("SlopeOne", SlopeOne, HyperparameterSpace({}, {}), max_points=1)]
