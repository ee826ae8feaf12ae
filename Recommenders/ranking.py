"""Top-k ranking of score rows, optionally skipping each row's excluded (seen) items."""

import numpy as np
import scipy.sparse as sp

from Recommenders._topk import top_k_of_dense_product, top_k_of_sparse_product, top_k_rows
from Recommenders.matrix_products import csr_arrays
from Recommenders.threads import configured_threads


def _excluded_arrays(exclude, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr int64, indices int32)`` of the rows' excluded items (non-zero entries of the
    sparse ``exclude``, sorted), both empty when ``exclude`` is None."""
    if exclude is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    if not sp.issparse(exclude):
        raise TypeError(f"exclude must be a scipy sparse matrix, got {type(exclude).__name__}")
    if exclude.shape != shape:
        raise ValueError(f"exclude has shape {exclude.shape}, scores have shape {shape}")
    exclude = sp.csr_matrix(exclude)
    if not exclude.has_sorted_indices or np.any(exclude.data == 0):
        exclude = exclude.copy()
        exclude.eliminate_zeros()
        exclude.sort_indices()
    return exclude.indptr.astype(np.int64, copy=False), exclude.indices.astype(np.int32, copy=False)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def rank_top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` best items per row of ``scores``, best first.

    Ties are broken by the lower item index; NaN scores rank after every
    number. Items with a non-zero value in row ``r`` of ``exclude`` (a sparse
    matrix with one row per score row) are never ranked for row ``r``. Returns int32
    ``n_rows x min(k, n_items)``; a row with fewer rankable items than columns
    is padded with ``-1`` at its end. Per row, a quickselect finds the ``k`` best
    and a heap sort orders them, in ``configured_threads()`` threads.
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D array, got {scores.ndim} dimensions")
    _check_k(k)
    n_rows, n_items = scores.shape
    indptr, indices = _excluded_arrays(exclude, scores.shape)
    top = np.empty((n_rows, min(k, n_items)), dtype=np.int32)
    top_k_rows(scores, indptr, indices, top, configured_threads())
    return top


def rank_top_k_of_product(left: sp.csr_matrix, rows: np.ndarray, right, k: int,
                          exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """``rank_top_k(score_rows(left, rows, right), k, exclude)`` (the same scores, the same
    result) without the dense block of scores: each thread scores one row into a buffer
    of one row and ranks it while it is in cache. ``right`` is CSR or a dense float32 array."""
    _check_k(k)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    n_items = right.shape[1]
    indptr, indices = _excluded_arrays(exclude, (rows.size, n_items))
    top = np.empty((rows.size, min(k, n_items)), dtype=np.int32)
    if sp.issparse(right):
        top_k_of_sparse_product(*csr_arrays(left), rows, *csr_arrays(right), n_items, indptr, indices, top,
                                configured_threads())
    else:
        top_k_of_dense_product(*csr_arrays(left), rows, np.ascontiguousarray(right, dtype=np.float32), indptr,
                               indices, top, configured_threads())
    return top
