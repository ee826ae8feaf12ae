"""CoClustering (George and Merugu, 2005) on explicit ratings (kernels: ``Recommenders._rating_models``).

As scikit-surprise defines it (the reference wrapped ``surprise.CoClustering``): users and
items start in uniformly random clusters; each of ``n_epochs`` epochs recomputes the cluster
averages, then moves every user, then every item, to the cluster that minimises the squared
error of its ratings under the prediction

    r_hat(u, i) = avg(C_ui) + (mu_u - avg(C_u)) + (mu_i - avg(C_i)),

``avg`` being the mean rating of the user cluster ``C_u``, item cluster ``C_i`` or co-cluster
``C_ui`` (the global mean for an empty one) and ``mu`` the user's or item's mean rating.
The averages are recomputed once more at the end. Ties go to the lowest cluster. As in the
reference wrapper, a user without training ratings gets the item's mean rating, an item
without ratings the user's mean, and the global mean when both lack ratings.

Differences from the reference: ratings are used as floats (scikit-surprise truncated them to
integers), and the random start comes from the recommender's seed (the reference passed
``random_state=None``, so its runs were not reproducible).
"""

import numpy as np

from Recommenders._rating_models import coclustering_assign, coclustering_averages
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import SCORE_BLOCK_USERS, BaseRecommender
from Recommenders.hyperparameter_space import HyperparameterSpace, Integer
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.slope_one import by_item_temporaries_bytes, profile_means
from Recommenders.threads import kernel_threads


class CoClustering(BaseRecommender):
    """Co-clustering rating predictor (see the module docstring)."""

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """Cluster tables and per-row arrays (kept), + the larger of the fit's temporaries (the
        ratings by item and the mean ratings' float64 copy of the values, 16 bytes per
        interaction, and their huge pages) and the evaluation (the base estimate, and the float64
        scores of one block), which comes after ``fit`` has returned those to the system."""
        hyperparameters = cls.with_defaults(hyperparameters)
        clusters = hyperparameters["n_cltr_u"] * hyperparameters["n_cltr_i"] * 32
        per_row = (n_users + n_items) * 24
        fit_temporaries = by_item_temporaries_bytes(n_interactions) + (n_items + 1) * 8
        evaluation = (super().estimate_memory_bytes(n_users, n_items, n_interactions)
                      + SCORE_BLOCK_USERS * n_items * 8)
        return clusters + per_row + max(fit_temporaries, evaluation)

    def _fit(self, URM_train, *, n_cltr_u, n_cltr_i, n_epochs):
        if n_cltr_u < 1 or n_cltr_i < 1:
            raise ValueError(f"n_cltr_u and n_cltr_i must be positive integers, got {n_cltr_u} and {n_cltr_i}")
        if n_epochs < 0:
            raise ValueError(f"n_epochs must be non-negative, got {n_epochs}")
        n_users, n_items = URM_train.shape
        by_user = (*kernel_csr_arrays(URM_train), URM_train.data)
        csc = URM_train.tocsc()
        csc.sort_indices()
        by_item = (*kernel_csr_arrays(csc), csc.data)
        self.user_mean_, self.known_user_ = profile_means(URM_train)
        self.item_mean_, self.known_item_ = profile_means(csc.T.tocsr())
        self.global_mean_ = float(URM_train.data.mean()) if URM_train.nnz else 0.0
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        self.user_cluster_ = rng.integers(n_cltr_u, size=n_users)
        self.item_cluster_ = rng.integers(n_cltr_i, size=n_items)
        n_threads = kernel_threads(URM_train.nnz + (n_users + n_items) * n_cltr_u * n_cltr_i)
        for _ in range(n_epochs):
            avg_u, avg_i, avg_co = self._averages(n_cltr_u, n_cltr_i)
            coclustering_assign(*by_user, self.user_mean_, self.item_mean_, self.item_cluster_, avg_i,
                                np.ascontiguousarray(avg_co - avg_u[:, None]), self.user_cluster_, n_threads)
            coclustering_assign(*by_item, self.item_mean_, self.user_mean_, self.user_cluster_, avg_u,
                                np.ascontiguousarray((avg_co - avg_i[None, :]).T), self.item_cluster_, n_threads)
        self.avg_user_cluster_, self.avg_item_cluster_, self.avg_cocluster_ = self._averages(n_cltr_u, n_cltr_i)

    def _averages(self, n_cltr_u: int, n_cltr_i: int):
        URM = self.URM_train_
        return coclustering_averages(*kernel_csr_arrays(URM), URM.data,
                                     self.user_cluster_, self.item_cluster_, n_cltr_u, n_cltr_i, self.global_mean_)

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        uc = self.user_cluster_[user_ids]
        ic = self.item_cluster_
        scores = self.avg_cocluster_[np.ix_(uc, ic)]  # the one float64 block: the terms are added in place
        scores += (self.user_mean_[user_ids] - self.avg_user_cluster_[uc])[:, None]
        scores += (self.item_mean_ - self.avg_item_cluster_[ic])[None, :]
        known_user = self.known_user_[user_ids]
        scores[~known_user] = self.item_mean_
        scores[:, ~self.known_item_] = self.user_mean_[user_ids, None]
        scores[np.ix_(~known_user, ~self.known_item_)] = self.global_mean_
        return scores.astype(np.float32)


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "CoClustering",
        CoClustering,
        HyperparameterSpace(
            {"n_cltr_u": Integer(1, 1000), "n_cltr_i": Integer(1, 100)},
            {"n_cltr_u": 20, "n_cltr_i": 20},
        ),
        fit_args={"n_epochs": 20},
    ),
]
