"""Top-k ranking of score rows, optionally skipping each row's excluded (seen) items."""

import numpy as np
import scipy.sparse as sp

from Recommenders._topk import top_k_rows
from Recommenders.threads import configured_threads


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
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_rows, n_items = scores.shape
    if exclude is None:
        indptr = np.empty(0, dtype=np.int64)
        indices = np.empty(0, dtype=np.int32)
    else:
        if not sp.issparse(exclude):
            raise TypeError(f"exclude must be a scipy sparse matrix, got {type(exclude).__name__}")
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores have shape {scores.shape}")
        exclude = sp.csr_matrix(exclude)
        if not exclude.has_sorted_indices or np.any(exclude.data == 0):
            exclude = exclude.copy()
            exclude.eliminate_zeros()
            exclude.sort_indices()
        indptr = exclude.indptr.astype(np.int64, copy=False)
        indices = exclude.indices.astype(np.int32, copy=False)
    top = np.empty((n_rows, min(k, n_items)), dtype=np.int32)
    top_k_rows(scores, indptr, indices, top, configured_threads())
    return top
