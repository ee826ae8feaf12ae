"""SLIM ElasticNet (Ning & Karypis 2011; Levy & Jack 2013): one ElasticNet regression per item.

For each item ``j``, with ``X`` the URM (``n = n_users`` rows) and column ``j`` zeroed:

    w_j = argmin_{w >= 0} 1/(2n) ||X[:, j] - X w||^2 + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio)/2 ||w||^2

(scikit-learn's ``ElasticNet`` with the reference's settings: no intercept,
``selection="random"``, ``max_iter=100``, ``tol=1e-4``; its ``precompute=True``
is moot on sparse input). Column ``j`` of ``W`` keeps
the ``topK`` largest coefficients of ``w_j``; ``score(u, j) = sum_i X[u, i] W[i, j]``.

Items are solved by ``configured_threads()`` threads (scikit-learn's coordinate
descent releases the GIL), each on its own copy of ``X``; the random coordinate
order of item ``j`` is seeded by ``(seed, j)``, so results do not depend on the
thread count. Fixed reference bug: the reference kept ``min(nnz - 1, topK)``
coefficients, dropping the smallest one of every item with at most ``topK``
nonzero coefficients; here all of them are kept.
"""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import BaseRecommender
from Recommenders.hyperparameter_space import HyperparameterSpace, Integer, Real
from Recommenders.similarity_recommenders import ItemSimilarityRecommender
from Recommenders.threads import configured_threads


class SLIMElasticNetRecommender(ItemSimilarityRecommender):
    """SLIM with ElasticNet item regressions (module docstring)."""

    def _fit(self, URM_train: sp.csr_matrix, *, topK: int, l1_ratio: float, alpha: float) -> None:
        if not 0 <= l1_ratio <= 1:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio}")
        if topK < 1:
            raise ValueError(f"topK must be at least 1, got {topK}")
        # imported here: scikit-learn takes a third of a second to import, and every run imports the registry
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import ElasticNet

        X = sp.csc_matrix(URM_train, dtype=np.float32)
        n_items = X.shape[1]
        columns: list[tuple[np.ndarray, np.ndarray]] = [None] * n_items
        next_item = iter(range(n_items))
        lock = threading.Lock()
        failed = threading.Event()

        def worker():
            own = X.copy()
            model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False, copy_X=False,
                               precompute=False, selection="random", max_iter=100, tol=1e-4)
            try:
                while not failed.is_set():
                    with lock:
                        item = next(next_item, None)
                    if item is None:
                        return
                    columns[item] = self._regress(own, model, item, topK)
            except BaseException:
                failed.set()
                raise

        n_workers = max(1, min(configured_threads(), n_items))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with ThreadPoolExecutor(n_workers) as pool:
                for future in [pool.submit(worker) for _ in range(n_workers)]:
                    future.result()
        rows = np.concatenate([column[0] for column in columns])
        values = np.concatenate([column[1] for column in columns])
        indptr = np.concatenate([[0], np.cumsum([column[0].size for column in columns])])
        self.URM_model_ = URM_train
        self.W_ = sp.csc_matrix((values, rows, indptr), shape=(n_items, n_items)).tocsr()

    def _regress(self, X: sp.csc_matrix, model, item: int, topK: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and values of the ``topK`` largest nonzero coefficients predicting ``item``."""
        start, stop = X.indptr[item], X.indptr[item + 1]
        target = np.zeros(X.shape[0], dtype=np.float32)
        target[X.indices[start:stop]] = X.data[start:stop]
        saved = X.data[start:stop].copy()
        X.data[start:stop] = 0.0
        model.set_params(random_state=int(np.random.SeedSequence([self.seed, item]).generate_state(1)[0]))
        try:
            model.fit(X, target, check_input=False)
        finally:
            X.data[start:stop] = saved
        coefficients = model.coef_
        nonzero = np.flatnonzero(coefficients)
        if nonzero.size > topK:
            # stable sort: equal coefficients keep the lower item first
            nonzero = nonzero[np.argsort(-coefficients[nonzero], kind="stable")[:topK]]
            nonzero.sort()
        return nonzero.astype(np.int32), coefficients[nonzero].astype(np.float32)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, topK: int = 100,
                              **hyperparameters) -> int:
        csc_bytes = n_interactions * 8 + (n_items + 1) * 8
        per_worker = csc_bytes + n_users * 4 * 3 + n_items * 8 * 2
        weights = 3 * n_items * min(topK, n_items) * 8
        return (BaseRecommender.estimate_memory_bytes(n_users, n_items, n_interactions)
                + csc_bytes + configured_threads() * per_worker + weights)


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
