# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Kernels of the rating predictors SlopeOne and CoClustering (explicit ratings).

Rows run in parallel without the GIL; each row's arithmetic is the same whatever the
number of threads, so results do not depend on it. Row pointers are int64 (more than
2^31 ratings), indices int32 (``Recommenders.kernel_indices``). A thread that cannot
allocate its buffers makes the call raise ``MemoryError``.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np


def slope_one_deviations(const long long[::1] item_indptr, const int[::1] item_users, const float[::1] item_ratings,
                         const long long[::1] user_indptr, const int[::1] user_items, const float[::1] user_ratings,
                         float[:, ::1] dev, unsigned char[:, ::1] related, int n_threads):
    """Fill ``dev[i, j] = sum_{u in U_ij} (r_ui - r_uj) / |U_ij|`` and ``related[i, j] = |U_ij| > 0``,
    ``U_ij`` being the users who rated both ``i`` and ``j`` (``dev`` is 0 where ``U_ij`` is empty).

    Inputs: the ratings by item (CSC arrays) and by user (CSR arrays). Row ``i`` is built from
    the profiles of ``i``'s raters, in double precision, by one thread.
    """
    cdef Py_ssize_t n_items = dev.shape[0], i, j, a, b
    cdef int u
    cdef float r_ui
    cdef double* sums
    cdef int* counts
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int[::1] failed = failed_np
    with nogil, parallel(num_threads=n_threads):
        sums = <double*>malloc(n_items * sizeof(double))
        counts = <int*>malloc(n_items * sizeof(int))
        if sums == NULL or counts == NULL:
            failed[0] = 1
        for i in prange(n_items, schedule="dynamic", chunksize=16):
            if sums == NULL or counts == NULL:
                continue
            memset(sums, 0, n_items * sizeof(double))
            memset(counts, 0, n_items * sizeof(int))
            for a in range(item_indptr[i], item_indptr[i + 1]):
                u = item_users[a]
                r_ui = item_ratings[a]
                for b in range(user_indptr[u], user_indptr[u + 1]):
                    j = user_items[b]
                    sums[j] += r_ui - user_ratings[b]
                    counts[j] += 1
            for j in range(n_items):
                if counts[j] > 0:
                    dev[i, j] = <float>(sums[j] / counts[j])
                    related[i, j] = 1
                else:
                    dev[i, j] = 0.0
                    related[i, j] = 0
        free(sums)
        free(counts)
    if failed[0]:
        raise MemoryError(f"SlopeOne kernel: could not allocate a thread's {12 * n_items}-byte row buffers")


def slope_one_scores(const long long[::1] user_indptr, const int[::1] user_items, const long long[::1] user_ids,
                     const double[::1] user_mean, const float[:, ::1] dev, const unsigned char[:, ::1] related,
                     float[:, ::1] out, int n_threads):
    """``out[b, i] = mu_u + sum_{j in R_i(u)} dev[i, j] / |R_i(u)|`` for ``u = user_ids[b]``, where
    ``R_i(u)`` holds the items ``j`` rated by ``u`` with ``related[i, j]`` (``mu_u`` alone when
    empty). Uses ``dev[i, j] = -dev[j, i]`` to add whole rows ``j``."""
    cdef Py_ssize_t n_items = dev.shape[1], row, i, b
    cdef Py_ssize_t u, j
    cdef float* counts
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int[::1] failed = failed_np
    with nogil, parallel(num_threads=n_threads):
        counts = <float*>malloc(n_items * sizeof(float))
        if counts == NULL:
            failed[0] = 1
        for row in prange(user_ids.shape[0], schedule="dynamic", chunksize=8):
            if counts == NULL:
                continue
            u = user_ids[row]
            memset(counts, 0, n_items * sizeof(float))
            for i in range(n_items):
                out[row, i] = 0.0
            for b in range(user_indptr[u], user_indptr[u + 1]):
                j = user_items[b]
                for i in range(n_items):
                    out[row, i] -= dev[j, i]
                    counts[i] += related[j, i]
            for i in range(n_items):
                if counts[i] > 0:
                    out[row, i] = <float>(user_mean[u] + out[row, i] / counts[i])
                else:
                    out[row, i] = <float>user_mean[u]
        free(counts)
    if failed[0]:
        raise MemoryError(f"SlopeOne scoring kernel: could not allocate a thread's {4 * n_items}-byte buffer")


def coclustering_averages(const long long[::1] indptr, const int[::1] indices, const float[::1] ratings,
                          const long long[::1] user_cluster, const long long[::1] item_cluster,
                          int n_user_clusters, int n_item_clusters, double global_mean):
    """Average rating of each user cluster, item cluster and co-cluster, from the CSR ratings
    (``global_mean`` for an empty one): ``(avg_u, avg_i, avg_co)``."""
    count_u = np.zeros(n_user_clusters, dtype=np.int64)
    count_i = np.zeros(n_item_clusters, dtype=np.int64)
    count_co = np.zeros((n_user_clusters, n_item_clusters), dtype=np.int64)
    sum_u = np.zeros(n_user_clusters)
    sum_i = np.zeros(n_item_clusters)
    sum_co = np.zeros((n_user_clusters, n_item_clusters))
    cdef long long[::1] cu = count_u, ci = count_i
    cdef long long[:, ::1] cco = count_co
    cdef double[::1] su = sum_u, si = sum_i
    cdef double[:, ::1] sco = sum_co
    cdef Py_ssize_t u, index, uc, ic
    cdef double r
    with nogil:
        for u in range(indptr.shape[0] - 1):
            uc = user_cluster[u]
            for index in range(indptr[u], indptr[u + 1]):
                ic = item_cluster[indices[index]]
                r = ratings[index]
                cu[uc] += 1
                ci[ic] += 1
                cco[uc, ic] += 1
                su[uc] += r
                si[ic] += r
                sco[uc, ic] += r
    return tuple(
        np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
        for sums, counts in ((sum_u, count_u), (sum_i, count_i), (sum_co, count_co))
    )


def coclustering_assign(const long long[::1] indptr, const int[::1] indices, const float[::1] ratings,
                        const double[::1] row_mean, const double[::1] col_mean, const long long[::1] col_cluster,
                        const double[::1] avg_col_cluster, const double[:, ::1] offset,
                        long long[::1] row_cluster, int n_threads):
    """Move each row (user, or item with the roles swapped) to the cluster ``c`` minimising
    ``sum_{j in row} (r - mu_row - mu_j + avg_cluster(j) - offset[c, cluster(j)])^2`` (first
    minimum), where ``offset[c, d] = avg_co - avg_row_cluster[c]`` (transposed for items). The sum
    is grouped by column cluster ``d``: ``sum_d (S2_d - 2 offset[c, d] A_d + offset[c, d]^2 N_d)``
    with ``A_d``, ``S2_d``, ``N_d`` the sum, sum of squares and count of the residuals ``a_j``."""
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, n_clusters = offset.shape[0], n_col_clusters = offset.shape[1]
    cdef Py_ssize_t row, index, c, d, k, n_present, best
    cdef double a, error, best_error, o
    cdef double* sums
    cdef double* squares
    cdef double* counts
    cdef Py_ssize_t* present
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int[::1] failed = failed_np
    with nogil, parallel(num_threads=n_threads):
        sums = <double*>malloc(n_col_clusters * sizeof(double))
        squares = <double*>malloc(n_col_clusters * sizeof(double))
        counts = <double*>malloc(n_col_clusters * sizeof(double))
        present = <Py_ssize_t*>malloc(n_col_clusters * sizeof(Py_ssize_t))
        if sums == NULL or squares == NULL or counts == NULL or present == NULL:
            failed[0] = 1
        else:
            memset(counts, 0, n_col_clusters * sizeof(double))
        for row in prange(n_rows, schedule="dynamic", chunksize=64):
            if sums == NULL or squares == NULL or counts == NULL or present == NULL:
                continue
            n_present = 0
            for index in range(indptr[row], indptr[row + 1]):
                d = col_cluster[indices[index]]
                a = ratings[index] - row_mean[row] - col_mean[indices[index]] + avg_col_cluster[d]
                if counts[d] == 0:
                    present[n_present] = d
                    n_present = n_present + 1
                    sums[d] = 0.0
                    squares[d] = 0.0
                sums[d] += a
                squares[d] += a * a
                counts[d] += 1
            best = 0
            best_error = 0.0
            for c in range(n_clusters):
                error = 0.0
                for k in range(n_present):
                    d = present[k]
                    o = offset[c, d]
                    error = error + squares[d] - 2.0 * o * sums[d] + o * o * counts[d]
                if c == 0 or error < best_error:
                    best = c
                    best_error = error
            row_cluster[row] = best
            for k in range(n_present):
                counts[present[k]] = 0
        free(sums)
        free(squares)
        free(counts)
        free(present)
    if failed[0]:
        raise MemoryError(f"CoClustering kernel: could not allocate a thread's {32 * n_col_clusters}-byte buffers")
