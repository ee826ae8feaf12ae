"""Top-k ranking of score rows, optionally skipping each row's excluded (seen) items."""

import numpy as np
import scipy.sparse as sp


def rank_top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` best items per row of ``scores``, best first.

    Ties are broken by the lower item index. Items stored in row ``r`` of
    ``exclude`` (a CSR matrix with one row per score row) are never ranked
    for row ``r``. Returns int32 ``n_rows x min(k, n_items)``; a row with
    fewer rankable items than columns is padded with ``-1`` at its end.
    """
    scores = np.asarray(scores, dtype=np.float32)
    n_rows, n_items = scores.shape
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    width = min(k, n_items)
    rankable = np.ones((n_rows, n_items), dtype=bool)
    if exclude is not None:
        rows, cols = exclude.nonzero()
        rankable[rows, cols] = False
    # lexsort: last key is primary; sort by (not rankable, -score, item index)
    order = np.lexsort((np.broadcast_to(np.arange(n_items), scores.shape), -scores, ~rankable), axis=1)
    top = order[:, :width].astype(np.int32)
    n_rankable = rankable.sum(axis=1)
    top[np.arange(width)[None, :] >= n_rankable[:, None]] = -1
    return top
