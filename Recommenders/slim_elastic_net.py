"""SLIM ElasticNet (Ning & Karypis 2011; Levy & Jack 2013): one non-negative elastic net per item.

For each item ``j``, with ``X`` the URM (``n = n_users`` rows) and column ``j`` excluded:

    w_j = argmin_{w >= 0} 1/(2n) ||X[:, j] - X w||^2 + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio)/2 ||w||^2

(scikit-learn's ``ElasticNet(alpha, l1_ratio, positive=True, fit_intercept=False)``
objective, with the reference's ``max_iter=100`` and ``tol=1e-4``: an item stops
when scikit-learn's duality gap is at most ``tol ||X[:, j]||^2``). Column ``j`` of
``W`` keeps the ``topK`` largest coefficients of ``w_j`` (ties: the lower item);
``score(u, j) = sum_i X[u, i] W[i, j]``.

Solved by the coordinate-descent kernel ``Recommenders._elastic_net`` (its
docstring: the objective multiplied by ``n``, the exact reduction to the items
that co-occur with ``j`` more than ``n alpha l1_ratio``, working sets, the
stopping rule) from the item Gram matrix ``X^T X``, computed once: dense float32
(``Recommenders.matrix_products.gram_matrix``) when ``n_items^2`` floats fit the
memory budget left after the rest of the fit, else sparse (scipy's product).
Items run in ``configured_threads()`` threads; the result does not depend on
their number. ``converged_`` says which items reached the tolerance within
``max_iter`` sweeps. scikit-learn's per-item ``ElasticNet`` is the kernel's test
oracle (``tests/test_slim_elastic_net.py``).

Departures from the reference: it kept ``min(nnz - 1, topK)`` coefficients, dropping
the smallest one of every item with at most ``topK`` nonzero coefficients; here all
of them are kept. Its coordinate order was random (``selection="random"``, unseeded);
here it is cyclic over the working set, so a fit is deterministic. Both solve the
same problem to the same duality-gap tolerance.
"""

import numpy as np
import scipy.sparse as sp

from Recommenders import _elastic_net
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import HyperparameterSpace, Integer, Real
from Recommenders.matrix_products import csr_arrays, gram_matrix
from Recommenders.memory import MemoryEstimateExceeded, format_bytes, memory_limit_bytes
from Recommenders.similarity import top_k_transposed
from Recommenders.similarity_recommenders import ItemSimilarityRecommender
from Recommenders.threads import configured_threads

#: The reference's solver settings (scikit-learn's ``max_iter`` and ``tol``).
MAX_ITER = 100
TOL = 1e-4
#: Largest working set (items) of one item's problem: bounds each thread's local Gram copy.
MAX_WORKING_SET = 4096


def _working_set_capacity(n_items: int) -> int:
    return max(1, min(n_items, MAX_WORKING_SET))


def dense_gram_bytes(n_items: int) -> int:
    """Bytes of the dense float32 item Gram matrix."""
    return n_items * n_items * 4


class SLIMElasticNetRecommender(ItemSimilarityRecommender):
    """SLIM with ElasticNet item regressions (module docstring)."""

    def _fit(self, URM_train: sp.csr_matrix, *, topK: int, l1_ratio: float, alpha: float) -> None:
        if not 0 <= l1_ratio <= 1:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio}")
        if topK < 1:
            raise ValueError(f"topK must be at least 1, got {topK}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be non-negative, got {alpha}")
        n_users, n_items = URM_train.shape
        X = sp.csc_matrix(URM_train, dtype=np.float32)
        X.sort_indices()
        if not np.all(np.isfinite(X.data)):
            raise ValueError("URM_train holds non-finite values")
        k = min(int(topK), n_items)
        counts, indices, values, sweeps, converged = _elastic_net.slim_elastic_net(
            *csr_arrays(X), n_users, *self._item_gram(URM_train, X, topK), np.arange(n_items, dtype=np.int32), n_users * alpha * l1_ratio, n_users * alpha * (1.0 - l1_ratio),
            TOL, MAX_ITER, k, _working_set_capacity(n_items), n_threads=configured_threads(),
        )
        self.URM_model_ = URM_train
        self.W_ = top_k_transposed(counts, indices, values, k, (n_items, n_items))
        self.sweeps_ = sweeps
        self.converged_ = converged

    def _item_gram(self, URM_train, X: sp.csc_matrix, topK: int):
        """``(dense, ptr, idx, val, diag)``: the dense float32 Gram (sparse arrays empty) when it fits
        the budget left after the rest of the fit, else a ``0 x 0`` dense array and the sparse Gram's
        CSC arrays; ``diag`` is the Gram's diagonal."""
        n_users, n_items = URM_train.shape
        rest = self._bytes_without_gram(n_users, n_items, URM_train.nnz, topK)
        budget = memory_limit_bytes() - rest
        if dense_gram_bytes(n_items) <= budget:
            dense = gram_matrix(URM_train)
            return (dense, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                    np.diag(dense).astype(np.float64))
        # the sparse product holds X^T, the result, and scipy's int64/float64 work arrays: at most
        # 24 bytes per Gram entry, each entry bounded by the pairs of items one user rated
        degrees = np.diff(URM_train.indptr).astype(np.float64)
        bound = 24 * min(float(n_items) ** 2, float(np.sum(degrees**2))) + 16 * URM_train.nnz
        if bound > budget:
            raise MemoryEstimateExceeded(
                f"SLIMElasticNetRecommender: the item Gram matrix needs up to {format_bytes(bound)}, above the "
                f"{format_bytes(max(budget, 0))} left of the memory budget (RECZILLA_MEMORY_LIMIT)")
        gram = sp.csc_matrix(X.T @ X, dtype=np.float32)
        diag = gram.diagonal().astype(np.float64)
        ptr, idx, val = csr_arrays(gram)
        return np.zeros((0, 0), np.float32), ptr, idx, val, diag

    @classmethod
    def _bytes_without_gram(cls, n_users: int, n_items: int, n_interactions: int, topK: int) -> int:
        """The fit's and the evaluation's peak without the Gram matrix: the training matrix in CSC and
        the CSC copy the Gram's product makes, every thread's workspace (its local Gram at full capacity:
        where every item co-occurs with every other, working sets grow to every item), the kernel's
        ``topK`` coefficients per item, ``W_`` built from them, and the evaluation. Summed, though the
        phases follow one another: the allocator may keep their freed blocks resident (the largest
        phase alone was measured below the peak at 30,000 x 300 x 480,000)."""
        workspaces = configured_threads() * _elastic_net.workspace_bytes(n_items, n_users,
                                                                         _working_set_capacity(n_items))
        csc_bytes = n_interactions * 8 + (n_items + 1) * 8
        coefficients = n_items * (min(topK, n_items) * 8 + 32)  # int32 items, float32 values, per-item arrays
        return (super().estimate_memory_bytes(n_users, n_items, n_interactions)
                + 2 * csc_bytes + workspaces + 2 * coefficients)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        """The peak without the Gram matrix, plus the Gram matrix: dense when it fits the budget,
        else the fit refuses a sparse one that would not fit (``MemoryEstimateExceeded``)."""
        rest = cls._bytes_without_gram(n_users, n_items, n_interactions, cls.with_defaults(hyperparameters)["topK"])
        return rest + min(dense_gram_bytes(n_items), max(memory_limit_bytes() - rest, 0))


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "SLIMElasticNetRecommender",
        SLIMElasticNetRecommender,
        HyperparameterSpace(
            {"topK": Integer(5, 1000), "l1_ratio": Real(1e-5, 1.0, prior="log-uniform"), "alpha": Real(1e-3, 1e2)},
            {"topK": 5, "l1_ratio": 0.1, "alpha": 1.0},
        ),
    ),
]
