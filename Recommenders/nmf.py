"""NMF recommender: a non-negative factorisation of the URM (scikit-learn's ``NMF``).

``URM ~ W H`` with ``W, H >= 0`` and ``num_factors`` components, minimising the
Frobenius or the Kullback-Leibler ``beta_loss`` by coordinate descent (``cd``) or
multiplicative updates (``mu``), from a ``random`` or ``nndsvda`` start, at most 500
iterations, seeded by the model's seed (the reference's settings; its
``l1_ratio`` had no effect, the regularisation being zero). As in the reference
the user factors are ``transform(URM)`` (re-solved with ``H`` fixed) and
``score(u, j) = user_factors_[u] . H[:, j]``.

Two corners of the reference's search space cannot be fitted and raise
``ValueError`` before any work, as scikit-learn did for the reference: coordinate
descent with the Kullback-Leibler loss, and ``nndsvda`` with more factors than
``min(n_users, n_items)``.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer
from Recommenders.latent_factors import LatentFactorRecommender, latent_factor_memory_bytes

SOLVERS = {"coordinate_descent": "cd", "multiplicative_update": "mu"}
INIT_TYPES = ("random", "nndsvda")
BETA_LOSSES = ("frobenius", "kullback-leibler")


class NMFRecommender(LatentFactorRecommender):
    """NMF (module docstring)."""

    def _fit(self, URM_train: sp.csr_matrix, *, num_factors: int, solver: str, init_type: str, beta_loss: str,
             max_iter: int = 500) -> None:
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
        if init_type not in INIT_TYPES:
            raise ValueError(f"unknown init_type {init_type!r}; valid: {', '.join(INIT_TYPES)}")
        if beta_loss not in BETA_LOSSES:
            raise ValueError(f"unknown beta_loss {beta_loss!r}; valid: {', '.join(BETA_LOSSES)}")
        if num_factors < 1:
            raise ValueError(f"num_factors must be at least 1, got {num_factors}")
        if solver == "coordinate_descent" and beta_loss != "frobenius":
            raise ValueError(f"NMF: solver coordinate_descent cannot minimise beta_loss {beta_loss!r}")
        if init_type == "nndsvda" and num_factors > min(URM_train.shape):
            raise ValueError(f"NMF: init nndsvda needs num_factors <= min(n_users, n_items) = "
                             f"{min(URM_train.shape)}, got {num_factors}")
        # imported here: scikit-learn takes a third of a second to import, and every run imports the registry
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        model = NMF(n_components=num_factors, init=init_type, solver=SOLVERS[solver], beta_loss=beta_loss,
                    random_state=self.seed, shuffle=True, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(URM_train)
            self.user_factors_ = np.ascontiguousarray(model.transform(URM_train), dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.components_.T, dtype=np.float32)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        """Latent-factor estimate with float32 working copies (scikit-learn keeps the split's
        float32): 4.5 for the nndsvda initialisation (its randomized SVD; measured 4.0 at
        20,000 x 5,000 x 800,000 and 2.8 at 6,000 x 2,000 x 240,000) and 3 otherwise (the
        factors, the updates' numerators and denominators), + two sparse float32 matrices at
        the non-zeros for the Kullback-Leibler loss (coordinate descent refuses that loss)."""
        hyperparameters = cls.with_defaults(hyperparameters)
        copies = 4.5 if hyperparameters["init_type"] == "nndsvda" else 3
        kullback_leibler = (hyperparameters["beta_loss"] == "kullback-leibler"
                            and hyperparameters["solver"] == "multiplicative_update")
        ratios = 2 * n_interactions * 8 if kullback_leibler else 0
        return latent_factor_memory_bytes(n_users, n_items, n_interactions, hyperparameters["num_factors"],
                                          working_copies=copies, value_bytes=4) + ratios


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "NMFRecommender",
        NMFRecommender,
        HyperparameterSpace(
            {
                "num_factors": Integer(1, 350),
                "solver": Categorical(("coordinate_descent", "multiplicative_update")),
                "init_type": Categorical(("random", "nndsvda")),
                "beta_loss": Categorical(("frobenius", "kullback-leibler")),
            },
            {"num_factors": 10, "solver": "coordinate_descent", "init_type": "random", "beta_loss": "frobenius"},
        ),
        max_points=2800,
    ),
]
