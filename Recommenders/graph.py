"""Random-walk item similarities: P3alpha and RP3beta.

With ``P_ui = r_ui / sum_j |r_uj|`` (the row-normalised URM) and ``P_iu = 1 / deg(i)``
for each user ``u`` of item ``i`` (the column-normalised binary URM, transposed):

- P3alpha: ``W[i, j] = sum_u P_iu^alpha P_uj^alpha`` for ``j != i``;
- RP3beta: the same times ``deg(j)^-beta`` (0 for an item without interactions).

Each row of ``W`` keeps its ``topK`` largest values; ``normalize_similarity`` then
divides each row by its sum, and each column keeps its ``topK`` largest values
(the reference applies both cuts, rows then columns).
``score(u, j) = sum_i URM[u, i] W[i, j]``.

The reference's ``min_rating``/``implicit`` options (never searched) are left out.
"""

import numpy as np
import scipy.sparse as sp

from Recommenders import _similarity
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.similarity import column_top_k, top_k_memory_bytes, top_k_similarity
from Recommenders.similarity_recommenders import ItemSimilarityRecommender


def random_walk_similarity(URM: sp.csr_matrix, topK: int, alpha: float, beta: float | None,
                           normalize_similarity: bool) -> sp.csr_matrix:
    """The P3alpha (``beta=None``) or RP3beta item-item matrix ``W`` (module docstring), CSR float32."""
    URM = sp.csr_matrix(URM, dtype=np.float32)
    n_users, n_items = URM.shape
    users = np.repeat(np.arange(n_users), np.diff(URM.indptr))
    row_l1 = np.bincount(users, weights=np.abs(URM.data), minlength=n_users)
    row_l1[row_l1 == 0] = 1.0
    degree = np.bincount(URM.indices, minlength=n_items).astype(np.float64)
    p_ui = URM.data / row_l1[users]
    p_iu = 1.0 / degree[URM.indices]
    if alpha != 1.0:
        p_ui, p_iu = np.power(p_ui, alpha), np.power(p_iu, alpha)
    popularity_penalty = np.ones(n_items)
    if beta is not None:
        popularity_penalty = np.zeros(n_items)
        popularity_penalty[degree > 0] = np.power(degree[degree > 0], -beta)
    left = sp.csr_matrix((p_iu, URM.indices, URM.indptr), shape=URM.shape)
    right = sp.csr_matrix((p_ui, URM.indices, URM.indptr), shape=URM.shape)
    # M = W^T: column i of M holds the topK of row i of W
    M = top_k_similarity(left, right, topK, _similarity.MODE_DOT, np.ones(n_items), popularity_penalty)
    if normalize_similarity:  # rows of W = columns of M
        column_sums = np.bincount(M.indices, weights=np.abs(M.data), minlength=n_items)
        M.data /= column_sums[M.indices].astype(np.float32)
    return column_top_k(M.T, topK)


class _RandomWalkRecommender(ItemSimilarityRecommender):
    """Shared memory estimate: five arrays of 8 bytes per interaction (the entries' user numbers,
    the two walk probabilities in float64, the kernel's float32 CSC and CSR copies), the row cut
    and the column cut."""

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        topK = cls.with_defaults(hyperparameters)["topK"]
        copies = 5 * (n_interactions * 8 + (n_users + 1) * 8)
        return (super().estimate_memory_bytes(n_users, n_items, n_interactions)
                + copies + 2 * top_k_memory_bytes(n_items, n_items, topK))


class P3alphaRecommender(_RandomWalkRecommender):
    """P3alpha: three-step random walk, probabilities raised to ``alpha``."""

    def _fit(self, URM_train: sp.csr_matrix, *, topK: int, alpha: float, normalize_similarity: bool) -> None:
        self.URM_model_ = URM_train
        self.W_ = random_walk_similarity(URM_train, topK, alpha, None, normalize_similarity)


class RP3betaRecommender(_RandomWalkRecommender):
    """RP3beta: P3alpha with each target item's score divided by its popularity to the ``beta``."""

    def _fit(self, URM_train: sp.csr_matrix, *, topK: int, alpha: float, beta: float,
             normalize_similarity: bool) -> None:
        self.URM_model_ = URM_train
        self.W_ = random_walk_similarity(URM_train, topK, alpha, beta, normalize_similarity)


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "P3alphaRecommender",
        P3alphaRecommender,
        HyperparameterSpace(
            {"topK": Integer(5, 1000), "alpha": Real(0.0, 2.0), "normalize_similarity": Categorical((True, False))},
            {"topK": 5, "alpha": 1.0, "normalize_similarity": True},
        ),
    ),
    AlgorithmSpec(
        "RP3betaRecommender",
        RP3betaRecommender,
        HyperparameterSpace(
            {"topK": Integer(5, 1000), "alpha": Real(0.0, 2.0), "beta": Real(0.0, 2.0),
             "normalize_similarity": Categorical((True, False))},
            {"topK": 5, "alpha": 1.0, "beta": 1.0, "normalize_similarity": True},
        ),
    ),
]
