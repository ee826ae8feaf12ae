"""Products of sparse matrices on the Cython engine ``Recommenders._similarity``.

``gram_matrix(X)`` is the dense ``X^T X``; ``score_rows(left, rows, right)`` is
``left[rows] @ right``, the scoring step of the similarity models. ``csr_arrays`` gives
the engine's view of a CSR (or CSC) matrix, ``check_finite`` refuses NaN and infinity,
``column_counts`` counts the entries of each column, ``column_sums_of_squares`` sums their squares.
"""

import numpy as np
import scipy.sparse as sp

from Recommenders import _similarity
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.threads import configured_threads


def csr_arrays(matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr int64, indices int32, data float32)`` of a CSR (or, read column-wise, CSC) matrix;
    the index arrays as ``kernel_csr_arrays`` gives them (refused where int32 would wrap)."""
    return (*kernel_csr_arrays(matrix), np.ascontiguousarray(matrix.data, dtype=np.float32))


#: Entries ``column_counts`` reads at once: its temporaries (a mask, the selected indices and
#: ``bincount``'s int64 copy of them, 13 bytes per entry) stay under 1 MiB.
COUNT_CHUNK = 1 << 16


def column_counts(X: sp.csr_matrix, nonzero_only: bool = False) -> np.ndarray:
    """int64 number of stored entries (with ``nonzero_only``, of nonzero ones) in each column of the
    CSR ``X``, counted ``COUNT_CHUNK`` entries at a time (``np.bincount`` of all the indices at once
    would copy them to int64)."""
    counts = np.zeros(X.shape[1], dtype=np.int64)
    for start in range(0, X.nnz, COUNT_CHUNK):
        end = min(start + COUNT_CHUNK, X.nnz)
        indices = X.indices[start:end]
        if nonzero_only:
            indices = indices[X.data[start:end] != 0]
        counts += np.bincount(indices, minlength=X.shape[1])
    return counts


def column_sums_of_squares(X: sp.csc_matrix) -> np.ndarray:
    """float64 sum of the squared values of each column of the CSC ``X``, in stored order (its
    int64 column numbers per entry are freed on return)."""
    column_of_entry = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
    return np.bincount(column_of_entry, weights=np.square(X.data, dtype=np.float64), minlength=X.shape[1])


def check_finite(X) -> None:
    """Raise ``ValueError`` when the sparse ``X`` stores a NaN or an infinity."""
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"the data matrix holds {int(np.sum(~np.isfinite(X.data)))} non-finite values")


def gram_matrix(X) -> np.ndarray:
    """Dense float32 ``X^T X`` of the sparse ``X`` (sums in float64)."""
    X = sp.csr_matrix(X, dtype=np.float32)
    X.sort_indices()
    check_finite(X)
    csc = X.tocsc()
    csc.sort_indices()
    out = np.empty((X.shape[1], X.shape[1]), dtype=np.float32)
    _similarity.gram_dense(*csr_arrays(csc), *csr_arrays(X), out, n_threads=configured_threads())
    return out


def score_rows(left: sp.csr_matrix, rows: np.ndarray, right) -> np.ndarray:
    """``left[rows] @ right`` as a dense float32 array; ``right`` is CSR or a dense float32 array."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    width = right.shape[1]
    out = np.zeros((rows.size, width), dtype=np.float32)
    l_ptr, l_cols, l_val = csr_arrays(left)
    if sp.issparse(right):
        _similarity.rows_times_sparse(l_ptr, l_cols, l_val, rows, *csr_arrays(right), out,
                                      n_threads=configured_threads())
    else:
        _similarity.rows_times_dense(l_ptr, l_cols, l_val, rows, np.ascontiguousarray(right, dtype=np.float32), out,
                                     n_threads=configured_threads())
    return out
