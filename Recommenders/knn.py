"""Neighbourhood models: ItemKNNCF and UserKNNCF, each with six similarities.

- ``ItemKNNCF``: ``W = similarity(columns of URM)`` (items x items, each column keeps its
  ``topK`` neighbours); ``score(u, j) = sum_i URM[u, i] W[i, j]``.
- ``UserKNNCF``: ``W = similarity(columns of URM^T)`` (users x users);
  ``score(u, j) = sum_v W[u, v] URM[v, j]``.

Similarities and their hyperparameters: ``Recommenders.similarity``. With
``feature_weighting`` BM25/TF-IDF (``Recommenders.feature_weighting``) the weighted
URM replaces the training URM both in the similarity and in the scores.

Kept reference quirks: UserKNNCF keeps the top-k per *column* of ``W`` but scores
with its *rows*, so the neighbours used for user ``u`` are the users that have ``u``
among their top-k (the same set for the symmetric similarities only when ``topK``
covers every user); jaccard and dice have ``normalize`` in their search space
although it has no effect on them.
"""

import scipy.sparse as sp

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.feature_weighting import apply_feature_weighting
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.similarity import compute_similarity, top_k_memory_bytes
from Recommenders.similarity_recommenders import ItemSimilarityRecommender, UserSimilarityRecommender


class _KNNCF:
    """The fit shared by the item- and user-based models."""

    #: One registry entry per similarity; ``fit`` without one is the cosine entry's default.
    VARIANT_ARGUMENT = ("similarity", "cosine")

    def _fit(self, URM_train: sp.csr_matrix, *, topK: int, shrink: float, similarity: str, normalize: bool,
             feature_weighting: str, **similarity_args) -> None:
        self.URM_model_ = apply_feature_weighting(URM_train, feature_weighting)
        self.W_ = compute_similarity(self._columns(self.URM_model_), similarity=similarity, topK=topK, shrink=shrink,
                                     normalize=normalize, **similarity_args)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        topK = cls.with_defaults(hyperparameters)["topK"]
        n = cls._n_compared(n_users, n_items)
        copies = 3 * (n_interactions * 8 + (max(n_users, n_items) + 1) * 8)  # weighted URM, its CSC and CSR
        return (super().estimate_memory_bytes(n_users, n_items, n_interactions)
                + copies + top_k_memory_bytes(n, n, topK))


class ItemKNNCF(_KNNCF, ItemSimilarityRecommender):
    """Item-based k-nearest-neighbours (scores in the module docstring)."""

    @staticmethod
    def _columns(URM: sp.csr_matrix) -> sp.csr_matrix:
        return URM

    @staticmethod
    def _n_compared(n_users: int, n_items: int) -> int:
        return n_items


class UserKNNCF(_KNNCF, UserSimilarityRecommender):
    """User-based k-nearest-neighbours (scores in the module docstring)."""

    @staticmethod
    def _columns(URM: sp.csr_matrix) -> sp.csc_matrix:
        return URM.T

    @staticmethod
    def _n_compared(n_users: int, n_items: int) -> int:
        return n_users


def _knn_space(similarity: str) -> tuple[HyperparameterSpace, dict]:
    """The reference's search space, default and fixed fit arguments of one similarity."""
    dimensions = {"topK": Integer(5, 1000), "shrink": Integer(0, 1000), "normalize": Categorical((True, False))}
    default = {"topK": 5, "shrink": 50, "normalize": True}
    fit_args = {"similarity": similarity}
    if similarity in ("asymmetric", "tversky"):
        del dimensions["normalize"], default["normalize"]
        fit_args["normalize"] = True
    if similarity == "asymmetric":
        dimensions["asymmetric_alpha"] = Real(0.0, 2.0)
        default["asymmetric_alpha"] = 1.0
    elif similarity == "tversky":
        dimensions.update(tversky_alpha=Real(0.0, 2.0), tversky_beta=Real(0.0, 2.0))
        default.update(tversky_alpha=1.0, tversky_beta=1.0)
    elif similarity == "euclidean":
        dimensions.update(normalize_avg_row=Categorical((True, False)),
                          similarity_from_distance_mode=Categorical(("lin", "log", "exp")))
        default.update(normalize_avg_row=True, similarity_from_distance_mode="lin")
    elif similarity == "cosine":
        dimensions["feature_weighting"] = Categorical(("none", "BM25", "TF-IDF"))
        default["feature_weighting"] = "none"
    return HyperparameterSpace(dimensions, default), fit_args


_SIMILARITY_ORDER = ("asymmetric", "tversky", "euclidean", "cosine", "jaccard", "dice")

ALGORITHM_SPECS = [
    AlgorithmSpec(f"{prefix}_{similarity}", cls, *_knn_space(similarity))
    for prefix, cls in (("ItemKNNCF", ItemKNNCF), ("UserKNNCF", UserKNNCF))
    for similarity in _SIMILARITY_ORDER
]
