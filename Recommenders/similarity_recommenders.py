"""Base classes of the models that score with a similarity matrix ``W_`` (KNN, P3alpha and RP3beta, SLIM ElasticNet, EASE^R)."""

import numpy as np
import scipy.sparse as sp

from Recommenders.base import BaseRecommender
from Recommenders.matrix_products import score_rows
from Recommenders.ranking import rank_top_k_of_product


class ItemSimilarityRecommender(BaseRecommender):
    """Scores ``URM_model_[u] @ W_``: ``W_`` is items x items (CSR or dense), ``URM_model_``
    the training matrix as the model uses it (possibly re-weighted)."""

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        return score_rows(self.URM_model_, user_ids, self.W_)

    def _rank(self, user_ids: np.ndarray, cutoff: int, exclude: sp.csr_matrix | None) -> np.ndarray:
        return rank_top_k_of_product(self.URM_model_, user_ids, self.W_, cutoff, exclude)


class UserSimilarityRecommender(BaseRecommender):
    """Scores ``W_[u] @ URM_model_``: ``W_`` is users x users (CSR)."""

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        return score_rows(self.W_, user_ids, self.URM_model_)

    def _rank(self, user_ids: np.ndarray, cutoff: int, exclude: sp.csr_matrix | None) -> np.ndarray:
        return rank_top_k_of_product(self.W_, user_ids, self.URM_model_, cutoff, exclude)
