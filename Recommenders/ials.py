"""IALSRecommender: implicit alternating least squares (engine: ``Recommenders._als``).

Hu, Koren and Volinsky (2008): with confidence ``c_ui = 1 + alpha r_ui`` (``linear``) or
``c_ui = 1 + alpha log(1 + r_ui / epsilon)`` (``log``) on the stored interactions, ``c = 1``
and preference 0 elsewhere, minimise

    sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2)

by alternately updating all user rows, then all item rows. Score: ``x_u . y_i``.

Differences from the reference (``MatrixFactorization/IALSRecommender.py``), deliberate:

- each row's linear system is solved approximately by ``cg_steps`` (3) conjugate-gradient
  steps warm-started at the current row (as the ``implicit`` package does) instead of an
  exact inverse; over the registry's 100 epochs the iterates converge to the same
  least-squares fixed point, at a fraction of the cost;
- factors are float32 (the reference: float64);
- user factors start at 0 (the reference left them uninitialised, overwritten by the first
  user half-epoch) and rows without interactions are solved too: their exact solution is 0,
  where the reference left cold users uninitialised and cold items at their random start.

Item factors start at ``U[0, 1) / sqrt(num_factors)``, as in the reference.
"""

import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from Recommenders._als import conjugate_gradient_rows
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.latent_factors import LatentFactorRecommender
from Recommenders.threads import kernel_threads

CONFIDENCE_SCALINGS = ("linear", "log")
#: Conjugate-gradient steps per row and half-epoch.
CG_STEPS = 3


def confidence(URM_train: sp.csr_matrix, confidence_scaling: str, alpha: float, epsilon: float) -> sp.csr_matrix:
    """The confidence matrix ``C`` (same pattern as ``URM_train``), float32."""
    if confidence_scaling not in CONFIDENCE_SCALINGS:
        raise ValueError(f"confidence_scaling must be one of {CONFIDENCE_SCALINGS}, got {confidence_scaling!r}")
    C = URM_train.astype(np.float32, copy=True)
    if confidence_scaling == "linear":
        C.data = 1.0 + alpha * C.data
    else:
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        C.data = 1.0 + alpha * np.log1p(C.data / epsilon)
    C.data = C.data.astype(np.float32)
    return C


class IALSRecommender(LatentFactorRecommender):
    """Implicit ALS with confidence-weighted least squares (see the module docstring)."""

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """Base estimate (which holds one block of scores) + ``C`` in CSR and CSC + float32 factors
        + the two float64 copies of the larger factor matrix that build ``Y^T Y``."""
        factors = cls.with_defaults(hyperparameters)["num_factors"]
        confidence_matrices = 2 * (n_interactions * 8 + max(n_users, n_items) * 8)
        return (
            super().estimate_memory_bytes(n_users, n_items, n_interactions)
            + confidence_matrices
            + (n_users + n_items) * factors * 4
            + 2 * max(n_users, n_items) * factors * 8
            + factors * factors * 16
        )

    def _fit(self, URM_train, *, epochs, num_factors, confidence_scaling, alpha, epsilon, reg):
        if epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {epochs}")
        if num_factors < 1:
            raise ValueError(f"num_factors must be a positive integer, got {num_factors}")
        if reg < 0:
            raise ValueError(f"reg must be non-negative, got {reg}")
        C = confidence(URM_train, confidence_scaling, alpha, epsilon)
        C_items = C.T.tocsr()
        by_user, by_item = ((*kernel_csr_arrays(matrix), matrix.data) for matrix in (C, C_items))
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        n_users, n_items = URM_train.shape
        self.user_factors_ = np.zeros((n_users, num_factors), dtype=np.float32)
        self.item_factors_ = (rng.random((n_items, num_factors)) * num_factors**-0.5).astype(np.float32)
        n_threads = kernel_threads((URM_train.nnz * 16 + (n_users + n_items) * num_factors * 4) * num_factors)
        self.epoch_seconds_ = []
        # BLAS runs inside the kernel's threads: one BLAS thread each
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(epochs):
                start = time.perf_counter()
                self._half_epoch(by_user, self.user_factors_, self.item_factors_, reg, n_threads)
                self._half_epoch(by_item, self.item_factors_, self.user_factors_, reg, n_threads)
                self.epoch_seconds_.append(time.perf_counter() - start)

    @staticmethod
    def _half_epoch(C: tuple, X: np.ndarray, Y: np.ndarray, reg: float, n_threads: int) -> None:
        """Update ``X`` from ``Y`` and the confidences ``C`` (``indptr, indices, data`` of its rows)."""
        YtY = Y.T.astype(np.float64) @ Y.astype(np.float64)
        YtY[np.diag_indices_from(YtY)] += reg
        conjugate_gradient_rows(*C, X, Y, YtY.astype(np.float32), CG_STEPS, n_threads)


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "IALSRecommender",
        IALSRecommender,
        HyperparameterSpace(
            {
                "num_factors": Integer(1, 200),
                "confidence_scaling": Categorical(list(CONFIDENCE_SCALINGS)),
                "alpha": Real(1e-3, 50.0, prior="log-uniform"),
                "epsilon": Real(1e-3, 10.0, prior="log-uniform"),
                "reg": Real(1e-5, 1e-2, prior="log-uniform"),
            },
            {"num_factors": 10, "confidence_scaling": "linear", "alpha": 1.0, "epsilon": 1.0, "reg": 1e-3},
        ),
        fit_args={"epochs": 100},
    ),
]
