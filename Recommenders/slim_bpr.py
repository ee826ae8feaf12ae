"""SLIM_BPR_Cython: an item-item model ``S`` learned with BPR (engine: ``Recommenders._slim_bpr_sgd``).

Score of item ``i`` for user ``u``: ``sum_{l in I(u)} W[l, i]`` where ``W[l, i] = S[i, l]``
keeps, for each item ``i``, the ``topK`` largest non-zero ``S[i, l]`` (``l != i``). ``S`` is
learned by SGD on the BPR criterion ``sum log sigmoid(x_ui - x_uj)`` with
``x_ui = sum_{l in I(u)} S[i, l]`` (see ``SlimBPRSGD``); an epoch is ``n_users`` samples.

Storage follows the reference's automatic choice: a dense ``n_items x n_items`` float64
matrix when it takes at most half of the memory budget (``RECZILLA_MEMORY_LIMIT``), else
sparse rows pruned to ``topK`` entries every ``n_users // 5`` samples (which, as in the
reference, ignores ``symmetric``). ``train_with_sparse_weights`` True/False forces a mode.

Differences from the reference (``SLIM_BPR/Cython``), deliberate:

- the negative item's regulariser shrinks its weights: ``S[j, l] -= lr (d_j + lambda_j S[j, l])``
  (the reference subtracted ``lambda_j S[j, l]`` inside, growing them);
- ``topK`` is applied per scored item ``i`` in every mode, and scores use the same
  orientation as training (the reference's symmetric and sparse modes kept ``topK``
  entries per profile item and its sparse mode scored with the transpose);
- scores use the binary profile, as training does (the reference multiplied by the stored
  ratings at scoring time).
"""

import time

import numpy as np
import scipy.sparse as sp

from Recommenders._sgd_common import SGD_MODES, optimizer_state_arrays
from Recommenders._slim_bpr_sgd import SlimBPRSGD, mirror_lower_triangle
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import BaseRecommender, evaluation_memory_bytes, score_block_users
from Recommenders.bpr_positives import bpr_positives
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.memory import huge_page_allowance, memory_limit_bytes
from Recommenders.threads import kernel_threads

#: Share of the memory budget the dense matrix may take (the reference's ``free_mem_threshold``).
DENSE_SHARE_OF_BUDGET = 0.5
#: Bytes per stored entry of a sparse row: int32 key + float64 value at a load factor down to 1/4.
SPARSE_ENTRY_BYTES = 48
#: Rows of the dense matrix ranked at once when extracting the top-k, and the bytes per entry of
#: a block that the extraction holds at once: the previous block's int64 ranking while the next
#: block's mask, candidates and ranking are made (1 + 8 + 8 + 8), its selected values (8).
TOP_K_BLOCK_ROWS = 256
TOP_K_BLOCK_BYTES = 33


def dense_bytes(n_items: int) -> int:
    return n_items * n_items * 8


def use_sparse_weights(n_items: int, train_with_sparse_weights) -> bool:
    """The storage mode: forced by ``train_with_sparse_weights``, else dense when it fits half the budget."""
    if train_with_sparse_weights is None:
        return dense_bytes(n_items) > DENSE_SHARE_OF_BUDGET * memory_limit_bytes()
    return bool(train_with_sparse_weights)


class SLIM_BPR_Cython(BaseRecommender):
    """SLIM trained with BPR (see the module docstring)."""

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """Per-item state (kept) + the larger of the fit (the similarity storage: dense matrix and
        the temporaries of two blocks of its rows while extracting the top-k, or sparse rows of at
        most ``topK`` entries plus the growth between two prunings; the top-k model, twice for one
        transpose, as float32 with int32 indices; the ratings' float32 copy and per-user arrays;
        huge pages) and the evaluation (the top-k model, and one block's float64 scores and their
        sparse product as ``score_temporaries``), which comes after ``fit`` has returned the
        fit's temporaries to the system."""
        hyperparameters = cls.with_defaults(hyperparameters)
        top_entries = min(hyperparameters["topK"], n_items) * n_items
        if use_sparse_weights(n_items, hyperparameters["train_with_sparse_weights"]):
            storage = SPARSE_ENTRY_BYTES * (top_entries + 2 * n_interactions // 5 + 8 * n_items)
            storage_arrays = ()
        else:
            storage = dense_bytes(n_items) + TOP_K_BLOCK_ROWS * n_items * TOP_K_BLOCK_BYTES
            storage_arrays = (dense_bytes(n_items),) + (TOP_K_BLOCK_ROWS * n_items * 8,) * 3
        model_arrays = (4 * top_entries,) * 4
        fit = (storage + 16 * top_entries + 4 * n_interactions + 32 * n_users
               + huge_page_allowance(*storage_arrays, *model_arrays, 4 * n_interactions))
        evaluation = 8 * top_entries + evaluation_memory_bytes(
            n_users, n_items, n_interactions, score_temporaries=score_block_users(n_users) * n_items * 16)
        return 16 * n_items + max(fit, evaluation)

    def _fit(self, URM_train, *, epochs, positive_threshold_BPR, train_with_sparse_weights, symmetric, lambda_i,
             lambda_j, learning_rate, topK, sgd_mode):
        if epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {epochs}")
        if sgd_mode not in SGD_MODES:
            raise ValueError(f"sgd_mode must be one of {SGD_MODES}, got {sgd_mode!r}")
        positives = bpr_positives(URM_train, positive_threshold_BPR)
        n_items = URM_train.shape[1]
        self.sparse_weights_ = use_sparse_weights(n_items, train_with_sparse_weights)
        dense = None if self.sparse_weights_ else np.zeros((n_items, n_items), dtype=np.float64)
        engine = SlimBPRSGD(
            *kernel_csr_arrays(positives),
            positives.data.astype(np.float32),
            n_items,
            dense,
            optimizer_state_arrays(sgd_mode, (n_items,)),
            sgd_mode=sgd_mode,
            learning_rate=learning_rate,
            lambda_i=lambda_i,
            lambda_j=lambda_j,
            symmetric=symmetric,
            top_k=topK,
            seed_sequence=np.random.SeedSequence(self.seed),
        )
        self.loss_history_, self.epoch_seconds_ = [], []
        for _ in range(epochs):
            start = time.perf_counter()
            self.loss_history_.append(engine.run_epoch())
            self.epoch_seconds_.append(time.perf_counter() - start)
        n_threads = kernel_threads(n_items * n_items)
        if self.sparse_weights_:
            data, indices, indptr = engine.sparse_top_k(n_threads)
            S_top = sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(n_items, n_items))
            del data  # the float64 values are not kept beside the model's float32 ones
        else:
            if symmetric:
                mirror_lower_triangle(dense, n_threads)
            S_top = dense_top_k(dense, topK)
        self.W_ = S_top.T.tocsr()
        self.W_.sort_indices()

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        profiles = self.URM_train_[user_ids]
        profiles.data = np.ones_like(profiles.data)
        return (profiles @ self.W_).toarray()


def dense_top_k(S: np.ndarray, k: int) -> sp.csr_matrix:
    """Per row of ``S``: its ``k`` largest non-zero entries off the diagonal, as CSR float32 with
    int32 indices (the model's types, so that nothing is copied to convert it)."""
    n = S.shape[0]
    k = min(k, n)
    np.fill_diagonal(S, 0.0)
    counts, indices, data = [], [], []
    for start in range(0, n, TOP_K_BLOCK_ROWS):
        block = S[start : start + TOP_K_BLOCK_ROWS]
        top = np.argpartition(np.where(block != 0, -block, np.inf), k - 1, axis=1)[:, :k]  # zeros never make it
        values = np.take_along_axis(block, top, axis=1)
        keep = values != 0
        counts.append(keep.sum(axis=1))
        indices.append(top[keep].astype(np.int32))
        data.append(values[keep].astype(np.float32))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=(n, n))


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "SLIM_BPR_Cython",
        SLIM_BPR_Cython,
        HyperparameterSpace(
            {
                "topK": Integer(5, 1000),
                "symmetric": Categorical([True, False]),
                "sgd_mode": Categorical(list(SGD_MODES)),
                "lambda_i": Real(1e-5, 1e-2, prior="log-uniform"),
                "lambda_j": Real(1e-5, 1e-2, prior="log-uniform"),
                "learning_rate": Real(1e-4, 1e-1, prior="log-uniform"),
            },
            {
                "topK": 5,
                "symmetric": True,
                "sgd_mode": "sgd",
                "lambda_i": 1e-3,
                "lambda_j": 1e-3,
                "learning_rate": 1e-3,
            },
        ),
        fit_args={"epochs": 100, "positive_threshold_BPR": None, "train_with_sparse_weights": None},
    ),
]
