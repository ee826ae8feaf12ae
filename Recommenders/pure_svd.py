"""PureSVD (Cremonesi, Koren & Turrin 2010): a truncated SVD of the URM.

``URM ~ U diag(s) V^T`` with ``num_factors`` components (scikit-learn's
``randomized_svd``, seeded by the model's seed, as in the reference);
``score(u, j) = (U diag(s))[u] . V[j]``. A ``num_factors`` above
``min(n_users, n_items)`` yields ``min(n_users, n_items)`` components, as
``randomized_svd`` does.
"""

import numpy as np
import scipy.sparse as sp

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import HyperparameterSpace, Integer
from Recommenders.latent_factors import LatentFactorRecommender, latent_factor_memory_bytes


class PureSVDRecommender(LatentFactorRecommender):
    """PureSVD (module docstring)."""

    def _fit(self, URM_train: sp.csr_matrix, *, num_factors: int) -> None:
        if num_factors < 1:
            raise ValueError(f"num_factors must be at least 1, got {num_factors}")
        # imported here: scikit-learn takes a third of a second to import, and every run imports the registry
        from sklearn.utils.extmath import randomized_svd

        U, sigma, VT = randomized_svd(URM_train, n_components=num_factors, random_state=self.seed)
        self.user_factors_ = np.ascontiguousarray(U * sigma, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(VT.T, dtype=np.float32)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        """Latent-factor estimate with 5 float32 working copies (``randomized_svd`` keeps the
        split's float32: the range finder's iterates, their orthonormalisation, the factors)."""
        num_factors = cls.with_defaults(hyperparameters)["num_factors"]
        return latent_factor_memory_bytes(n_users, n_items, n_interactions, num_factors, working_copies=5,
                                          value_bytes=4)


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "PureSVDRecommender",
        PureSVDRecommender,
        HyperparameterSpace({"num_factors": Integer(1, 350)}, {"num_factors": 10}),
        max_points=300,
    ),
]
