# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Implicit ALS half-epoch by conjugate gradient (Hu, Koren and Volinsky, 2008; Takacs et al., 2011).

For each row ``u`` of ``X`` with interactions ``i`` of confidence ``c_ui`` (preference 1),
the least-squares solution solves ``A_u x_u = b_u`` with

    A_u = Y^T Y + reg I + sum_i (c_ui - 1) y_i y_i^T,    b_u = sum_i c_ui y_i,

and ``cg_steps`` conjugate-gradient steps, warm-started at the current ``x_u``, move
``x_u`` towards it. Rows are independent: they run in parallel without the GIL and
each one's arithmetic is the same whatever the number of threads. Vector operations
of 32 factors or more go through BLAS (``scipy.linalg.cython_blas``; callers cap BLAS itself
at one thread), shorter ones through plain loops. Row pointers are int64 (more than
2^31 interactions), indices int32 (``Recommenders.kernel_indices``). A thread that cannot
allocate its scratch buffer makes the call raise ``MemoryError``.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport saxpy, sdot, ssymv

import numpy as np

#: Residual norm below which a row's conjugate gradient stops early.
CG_TOLERANCE = 1e-20
#: Vector length from which BLAS beats plain loops (measured: 2x slower at 10, 2x faster at 64).
cdef int BLAS_MIN_LENGTH = 32


cdef inline float dot(int n, float* x, float* y) noexcept nogil:
    cdef int one = 1, k
    cdef float total = 0.0
    if n >= BLAS_MIN_LENGTH:
        return sdot(&n, x, &one, y, &one)
    for k in range(n):
        total = total + x[k] * y[k]
    return total


cdef inline void axpy(int n, float a, float* x, float* y) noexcept nogil:
    """``y += a x``."""
    cdef int one = 1, k
    if n >= BLAS_MIN_LENGTH:
        saxpy(&n, &a, x, &one, y, &one)
        return
    for k in range(n):
        y[k] += a * x[k]


cdef inline void symmetric_product(int n, float* A, float* x, float alpha, float beta, float* y) noexcept nogil:
    """``y = alpha A x + beta y`` for symmetric ``A`` (row-major equals column-major)."""
    cdef int one = 1
    cdef char uplo = b"U"
    ssymv(&uplo, &n, &alpha, A, &n, x, &one, &beta, y, &one)


def conjugate_gradient_rows(const long long[::1] indptr, const int[::1] indices, const float[::1] confidence,
                            float[:, ::1] X, float[:, ::1] Y, float[:, ::1] YtY_reg, int cg_steps, int n_threads):
    """Update every row of ``X`` in place (see the module docstring); ``YtY_reg = Y^T Y + reg I``."""
    cdef int n_rows = X.shape[0], f = X.shape[1]
    cdef Py_ssize_t u, index
    cdef int step
    cdef float* scratch
    cdef float* r
    cdef float* p
    cdef float* Ap
    cdef float* x
    cdef float* y
    cdef float* yty = &YtY_reg[0, 0]
    cdef float c, rs_old, rs_new, alpha
    cdef float tolerance = CG_TOLERANCE
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int[::1] failed = failed_np
    if Y.shape[1] != f or YtY_reg.shape[0] != f or YtY_reg.shape[1] != f:
        raise ValueError("conjugate_gradient_rows: inconsistent factor shapes")
    if indptr.shape[0] != n_rows + 1:
        raise ValueError("conjugate_gradient_rows: indptr does not match the rows of X")
    with nogil, parallel(num_threads=n_threads):
        scratch = <float*>malloc(3 * f * sizeof(float))
        if scratch == NULL:
            failed[0] = 1
        r = scratch
        p = scratch + f
        Ap = scratch + 2 * f
        for u in prange(n_rows, schedule="dynamic", chunksize=32):
            if scratch == NULL:
                continue
            x = &X[u, 0]
            # r = b - A x
            symmetric_product(f, yty, x, -1.0, 0.0, r)
            for index in range(indptr[u], indptr[u + 1]):
                y = &Y[indices[index], 0]
                c = confidence[index]
                axpy(f, c - (c - 1.0) * dot(f, y, x), y, r)
            memcpy(p, r, f * sizeof(float))
            rs_old = dot(f, r, r)
            for step in range(cg_steps):
                if rs_old < tolerance:
                    break
                symmetric_product(f, yty, p, 1.0, 0.0, Ap)
                for index in range(indptr[u], indptr[u + 1]):
                    y = &Y[indices[index], 0]
                    axpy(f, (confidence[index] - 1.0) * dot(f, y, p), y, Ap)
                alpha = rs_old / dot(f, p, Ap)
                axpy(f, alpha, p, x)
                axpy(f, -alpha, Ap, r)
                rs_new = dot(f, r, r)
                # p = r + (rs_new / rs_old) p
                for index in range(f):
                    p[index] = r[index] + (rs_new / rs_old) * p[index]
                rs_old = rs_new
        free(scratch)
    if failed[0]:
        raise MemoryError(f"ALS kernel: could not allocate a thread's {3 * f * sizeof(float)}-byte scratch buffer")
