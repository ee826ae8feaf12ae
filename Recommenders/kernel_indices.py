"""The index arrays a Cython kernel takes from a sparse matrix: int64 pointers, int32 indices.

The kernels run with bounds checks off, so an index that wrapped around would read
and write the wrong memory silently. Pointers (``indptr``) are passed as int64: a
matrix may hold 2^31 entries or more. Indices (``indices``) stay int32, which halves
their memory; they are bounded by the other dimension, so a matrix with 2^31 or more
columns (rows, for CSC) is refused with a ``ValueError`` instead.
"""

import numpy as np
import scipy.sparse as sp

#: The first value an int32 index cannot hold.
INT32_LIMIT = 2**31


def kernel_index_arrays(indptr: np.ndarray, indices: np.ndarray, n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr as int64, indices as int32)``, contiguous; ``ValueError`` when the indices
    address ``n_targets >= 2^31`` rows or columns (int32 would wrap)."""
    if n_targets >= INT32_LIMIT:
        raise ValueError(
            f"the kernels address at most {INT32_LIMIT - 1} items or users with int32 indices, got {n_targets}"
        )
    return np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int32)


def kernel_csr_arrays(matrix: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """``kernel_index_arrays`` of a CSR matrix (indices are columns) or a CSC one (rows)."""
    if matrix.format not in ("csr", "csc"):
        raise TypeError(f"expected a CSR or CSC matrix, got {matrix.format}")
    n_targets = matrix.shape[1] if matrix.format == "csr" else matrix.shape[0]
    return kernel_index_arrays(matrix.indptr, matrix.indices, n_targets)
