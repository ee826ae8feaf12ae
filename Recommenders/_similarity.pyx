"""Similarity engine: sparse column products that keep the top-k of each column.

One kernel serves every similarity model (ItemKNN/UserKNN, P3alpha, RP3beta,
the Gram matrix of EASE-R). For a *target* column ``t`` it accumulates

    s_c = sum_r L[r, t] * R[r, c]        for every column c != t

by scatter-add: through the CSC structure of ``L`` (the rows ``r`` of column
``t``) and the CSR structure of ``R`` (the columns ``c`` of row ``r``); ``L`` and
``R`` have the same rows (both are the data matrix for KNN; the two random-walk
probability matrices for P3alpha/RP3beta). ``s_c`` then goes through one of the
transforms below, and the ``k`` largest nonzero results are kept (ties: the
lower column index wins): candidates enter a buffer of ``4k + 64`` pairs that a
quickselect cuts back to the ``k`` best whenever it fills; from then on the
worst kept pair is a threshold that candidates are tested against first.
Where a target's scatter touches few columns, only those are visited
(a list of touched columns); otherwise the whole accumulator is scanned.

Targets run in parallel (OpenMP ``prange``, GIL released); each thread owns a
dense accumulator of one column's length, so the memory is
``O(threads * n_cols + n_cols * k)``, never ``n_cols * n_cols``.

Transforms (``a`` = per-target factor, ``b`` = per-candidate factor):

- ``MODE_DOT``:       ``s * b[c] * (1 / scale)``
- ``MODE_PRODUCT``:   ``s / (a[t] * b[c] + shrink + 1e-6)``
- ``MODE_SET``:       ``s / (w_s * s + alpha * a[t] + beta * b[c] + shrink + 1e-6)``
- ``MODE_EUCLIDEAN``: ``d2 = a[t] + b[c] - 2 s`` (``a = b`` = squared norms), divided by
  ``sqrt(a[t] b[c])`` when ``normalize`` and that is nonzero, by ``row_divisor``;
  ``d = sqrt(max(d2, 0))``; result ``1 / (f(d) + shrink + 1e-9)`` with
  ``f`` = ``d`` (lin), ``log(d + 1)`` (log) or ``exp(d)`` (exp). Every column is a
  candidate here, not only the co-occurring ones.
"""

import numpy as np

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, sqrt
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from Recommenders._row_products cimport add_dense_product_row, add_sparse_product_row

cdef enum:
    DOT = 0
    PRODUCT = 1
    SET = 2
    EUCLIDEAN = 3

MODE_DOT = DOT
MODE_PRODUCT = PRODUCT
MODE_SET = SET
MODE_EUCLIDEAN = EUCLIDEAN
DISTANCE_LIN = 0
DISTANCE_LOG = 1
DISTANCE_EXP = 2


cdef struct Transform:
    int mode
    int distance_mode
    bint normalize
    double shrink
    double inverse_scale
    double w_s
    double alpha
    double beta
    double row_divisor
    const double* a
    const double* b


cdef inline double denominator(double s, int64_t t, int64_t c, const Transform* f) noexcept nogil:
    """The denominator of ``MODE_PRODUCT`` / ``MODE_SET``."""
    if f.mode == PRODUCT:
        return f.a[t] * f.b[c] + f.shrink + 1e-6
    return f.w_s * s + f.alpha * f.a[t] + f.beta * f.b[c] + f.shrink + 1e-6


cdef inline double transform(double s, int64_t t, int64_t c, const Transform* f) noexcept nogil:
    cdef double d2, den, d
    if f.mode == DOT:
        return s * f.b[c] * f.inverse_scale
    if f.mode == PRODUCT or f.mode == SET:
        return s / denominator(s, t, c, f)
    d2 = f.a[t] + f.b[c] - 2.0 * s
    if f.normalize:
        den = sqrt(f.a[t]) * sqrt(f.b[c])
        if den != 0.0:
            d2 = d2 / den
    d2 = d2 / f.row_divisor
    d = sqrt(d2) if d2 > 0.0 else 0.0
    if f.distance_mode == 1:
        d = log(d + 1.0)
    elif f.distance_mode == 2:
        d = exp(d)
    return 1.0 / (d + f.shrink + 1e-9)


# ---- top-k selection: a buffer of candidates, cut back to the k best whenever it fills ----

cdef inline bint better(double va, int32_t ia, double vb, int32_t ib) noexcept nogil:
    """Total order of the selection: larger value first, then lower index."""
    return va > vb or (va == vb and ia < ib)


cdef inline void swap(double* val, int32_t* idx, int64_t i, int64_t j) noexcept nogil:
    cdef double v = val[i]
    cdef int32_t x = idx[i]
    val[i] = val[j]
    idx[i] = idx[j]
    val[j] = v
    idx[j] = x


cdef void select_best(double* val, int32_t* idx, int64_t n, int64_t k) noexcept nogil:
    """Quickselect: afterwards ``[0, k)`` holds the ``k`` best of the ``n`` pairs (unordered)."""
    cdef int64_t lo = 0, hi = n - 1, i, j, mid
    cdef double pv
    cdef int32_t pi
    while lo < hi:
        mid = lo + (hi - lo) // 2
        # median of three as the pivot
        if better(val[mid], idx[mid], val[lo], idx[lo]):
            swap(val, idx, mid, lo)
        if better(val[hi], idx[hi], val[lo], idx[lo]):
            swap(val, idx, hi, lo)
        if better(val[hi], idx[hi], val[mid], idx[mid]):
            swap(val, idx, hi, mid)
        pv = val[mid]
        pi = idx[mid]
        i = lo
        j = hi
        while i <= j:
            while better(val[i], idx[i], pv, pi):
                i += 1
            while better(pv, pi, val[j], idx[j]):
                j -= 1
            if i <= j:
                swap(val, idx, i, j)
                i += 1
                j -= 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            return


cdef struct TopK:
    int64_t k
    int64_t capacity
    int64_t size
    bint has_threshold
    double threshold_val
    int32_t threshold_idx
    double* val
    int32_t* idx


cdef inline void top_k_reset(TopK* top) noexcept nogil:
    top.size = 0
    top.has_threshold = False


cdef void top_k_cut(TopK* top) noexcept nogil:
    """Keep the k best and remember the worst of them as the entry threshold."""
    cdef int64_t i, worst = 0
    select_best(top.val, top.idx, top.size, top.k)
    top.size = top.k
    for i in range(1, top.k):
        if better(top.val[worst], top.idx[worst], top.val[i], top.idx[i]):
            worst = i
    top.has_threshold = True
    top.threshold_val = top.val[worst]
    top.threshold_idx = top.idx[worst]


cdef inline bint top_k_rejects(const TopK* top, double v, int32_t i) noexcept nogil:
    """True when ``(v, i)`` cannot enter: it is not better than the worst kept pair."""
    return top.has_threshold and not better(v, i, top.threshold_val, top.threshold_idx)


cdef inline void top_k_push(TopK* top, double v, int32_t i) noexcept nogil:
    """Add a pair that passed ``top_k_rejects``; cut the buffer when it is full."""
    top.val[top.size] = v
    top.idx[top.size] = i
    top.size += 1
    if top.size == top.capacity:
        top_k_cut(top)


cdef inline void top_k_offer(TopK* top, double v, int32_t i) noexcept nogil:
    if not top_k_rejects(top, v, i):
        top_k_push(top, v, i)


cdef inline int64_t top_k_finish(TopK* top, int32_t* out_idx, float* out_val) noexcept nogil:
    """Write the k best (unordered) and return how many."""
    cdef int64_t i
    if top.size > top.k:
        top_k_cut(top)
    for i in range(top.size):
        out_idx[i] = top.idx[i]
        out_val[i] = <float>top.val[i]
    return top.size


cdef TopK* top_k_new(int64_t k) noexcept nogil:
    cdef TopK* top = <TopK*> malloc(sizeof(TopK))
    if top == NULL:
        return NULL
    top.k = k
    top.capacity = 4 * k + 64
    top.val = <double*> malloc(top.capacity * sizeof(double))
    top.idx = <int32_t*> malloc(top.capacity * sizeof(int32_t))
    if top.val == NULL or top.idx == NULL:
        free(top.val)
        free(top.idx)
        free(top)
        return NULL
    top_k_reset(top)
    return top


cdef void top_k_free(TopK* top) noexcept nogil:
    if top != NULL:
        free(top.val)
        free(top.idx)
        free(top)


cdef inline void consider(TopK* top, double s, int64_t t, int64_t c, const Transform* f) noexcept nogil:
    """Offer column ``c`` (dot product ``s`` with target ``t``) to the selection.

    Once a positive threshold exists it is tested first: it rejects most candidates,
    zeros included, with a predictable branch, and spares ``MODE_PRODUCT``/``MODE_SET``
    their division (``s / den < threshold`` whenever ``s < threshold * den``, ``den > 0``).
    """
    cdef double den, sim
    if c == t:
        return
    if f.mode == PRODUCT or f.mode == SET:
        den = denominator(s, t, c, f)
        if top.has_threshold and top.threshold_val > 0.0 and den > 0.0:
            if s < top.threshold_val * den * (1.0 - 1e-12):  # a margin for the rounding
                return
        elif s == 0.0:
            return
        sim = s / den
    elif f.mode == DOT:
        if not top.has_threshold and s == 0.0:
            return
        sim = s * f.b[c] * f.inverse_scale
    else:
        sim = transform(s, t, c, f)
    if top_k_rejects(top, sim, <int32_t>c) or sim == 0.0:
        return
    top_k_push(top, sim, <int32_t>c)


# ---- one target column ----

cdef int64_t target_top_k(
    int64_t t, int64_t n_cols, bint all_candidates,
    const int64_t* l_ptr, const int32_t* l_rows, const float* l_val,
    const int64_t* r_ptr, const int32_t* r_cols, const float* r_val,
    const Transform* f, double* acc, char* mark, int32_t* touched, TopK* top,
    int32_t* out_idx, float* out_val,
) noexcept nogil:
    """Top-k similarities of target ``t`` into ``out_idx/out_val``; returns how many."""
    cdef int64_t p, q, r, c, work = 0, n_touched = 0, i
    cdef double lv, s
    for p in range(l_ptr[t], l_ptr[t + 1]):
        r = l_rows[p]
        work += r_ptr[r + 1] - r_ptr[r]
    top_k_reset(top)
    # a dense scan of the accumulator beats tracking touched columns once most are touched
    if all_candidates or 4 * work >= n_cols:
        for p in range(l_ptr[t], l_ptr[t + 1]):
            r = l_rows[p]
            lv = l_val[p]
            for q in range(r_ptr[r], r_ptr[r + 1]):
                acc[r_cols[q]] += lv * r_val[q]
        for c in range(n_cols):
            consider(top, acc[c], t, c, f)
        memset(acc, 0, n_cols * sizeof(double))
    else:
        for p in range(l_ptr[t], l_ptr[t + 1]):
            r = l_rows[p]
            lv = l_val[p]
            for q in range(r_ptr[r], r_ptr[r + 1]):
                c = r_cols[q]
                acc[c] += lv * r_val[q]
                if not mark[c]:
                    mark[c] = 1
                    touched[n_touched] = <int32_t>c
                    n_touched += 1
        for i in range(n_touched):
            c = touched[i]
            mark[c] = 0
            s = acc[c]
            acc[c] = 0.0
            consider(top, s, t, c, f)
    return top_k_finish(top, out_idx, out_val)


def similarity_top_k(
    const int64_t[::1] l_ptr, const int32_t[::1] l_rows, const float[::1] l_val,
    const int64_t[::1] r_ptr, const int32_t[::1] r_cols, const float[::1] r_val,
    int64_t n_cols, int64_t k, int mode, const double[::1] a, const double[::1] b,
    double shrink=0.0, double scale=1.0, double w_s=0.0, double alpha=1.0, double beta=1.0,
    bint normalize=False, double row_divisor=1.0, int distance_mode=0, int n_threads=1,
):
    """Top-``k`` transformed similarities of every target column (see the module docstring).

    ``l_*``: CSC arrays of ``L`` (one entry per target column), ``r_*``: CSR arrays of ``R``.
    Returns ``(counts, indices, values)``: target ``t`` keeps ``counts[t]`` entries at
    ``indices/values[t * k : t * k + counts[t]]``, in no particular order.
    """
    cdef int64_t n_targets = l_ptr.shape[0] - 1
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if a.shape[0] < n_targets or b.shape[0] < n_cols:
        raise ValueError("similarity factors are shorter than the matrix")
    cdef Transform f
    f.mode = mode
    f.distance_mode = distance_mode
    f.normalize = normalize
    f.shrink = shrink
    f.inverse_scale = 1.0 / scale
    f.w_s = w_s
    f.alpha = alpha
    f.beta = beta
    f.row_divisor = row_divisor
    f.a = &a[0]
    f.b = &b[0]
    counts_np = np.zeros(n_targets, dtype=np.int64)
    indices_np = np.empty(n_targets * k, dtype=np.int32)
    values_np = np.empty(n_targets * k, dtype=np.float32)
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int64_t[::1] counts = counts_np
    cdef int32_t[::1] out_idx = indices_np
    cdef float[::1] out_val = values_np
    cdef int32_t[::1] failed = failed_np
    cdef bint all_candidates = mode == EUCLIDEAN
    cdef int64_t t
    cdef double* acc = NULL
    cdef char* mark = NULL
    cdef int32_t* touched = NULL
    cdef TopK* top = NULL
    if n_targets == 0:
        return counts_np, indices_np, values_np
    with nogil, parallel(num_threads=n_threads):
        acc = <double*> calloc(n_cols, sizeof(double))
        mark = <char*> calloc(n_cols, sizeof(char))
        touched = <int32_t*> malloc(n_cols * sizeof(int32_t))
        top = top_k_new(k)
        if acc == NULL or mark == NULL or touched == NULL or top == NULL:
            failed[0] = 1
        for t in prange(n_targets, schedule="dynamic", chunksize=4):
            if failed[0] == 0:
                counts[t] = target_top_k(
                    t, n_cols, all_candidates,
                    &l_ptr[0], &l_rows[0], &l_val[0], &r_ptr[0], &r_cols[0], &r_val[0], &f,
                    acc, mark, touched, top, &out_idx[t * k], &out_val[t * k],
                )
        free(acc)
        free(mark)
        free(touched)
        top_k_free(top)
    if failed[0]:
        raise MemoryError("similarity kernel: could not allocate its per-thread buffers")
    return counts_np, indices_np, values_np


def gram_dense(
    const int64_t[::1] l_ptr, const int32_t[::1] l_rows, const float[::1] l_val,
    const int64_t[::1] r_ptr, const int32_t[::1] r_cols, const float[::1] r_val,
    float[:, ::1] out, int n_threads=1,
):
    """``out[t, c] = sum_r L[r, t] R[r, c]`` for every pair, diagonal included (dense output)."""
    cdef int64_t n_targets = l_ptr.shape[0] - 1, n_cols = out.shape[1]
    cdef int64_t t, p, q, r, c
    cdef double lv
    cdef double* acc = NULL
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int32_t[::1] failed = failed_np
    if out.shape[0] != n_targets:
        raise ValueError(f"out has {out.shape[0]} rows for {n_targets} target columns")
    if n_targets == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        acc = <double*> calloc(n_cols, sizeof(double))
        if acc == NULL:
            failed[0] = 1
        for t in prange(n_targets, schedule="dynamic", chunksize=4):
            if failed[0] == 0:
                for p in range(l_ptr[t], l_ptr[t + 1]):
                    r = l_rows[p]
                    lv = l_val[p]
                    for q in range(r_ptr[r], r_ptr[r + 1]):
                        acc[r_cols[q]] += lv * r_val[q]
                for c in range(n_cols):
                    out[t, c] = <float>acc[c]
                memset(acc, 0, n_cols * sizeof(double))
        free(acc)
    if failed[0]:
        raise MemoryError("gram kernel: could not allocate its per-thread buffers")


def rows_top_k(
    const int64_t[::1] ptr, const int32_t[::1] cols, const float[::1] val, int64_t k, int n_threads=1,
):
    """The ``k`` largest nonzero entries of every CSR row (ties: lower column first).

    Returns ``(counts, indices, values)`` laid out as in ``similarity_top_k``.
    """
    cdef int64_t n_rows = ptr.shape[0] - 1
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    counts_np = np.zeros(n_rows, dtype=np.int64)
    indices_np = np.empty(n_rows * k, dtype=np.int32)
    values_np = np.empty(n_rows * k, dtype=np.float32)
    failed_np = np.zeros(1, dtype=np.int32)
    cdef int64_t[::1] counts = counts_np
    cdef int32_t[::1] out_idx = indices_np
    cdef float[::1] out_val = values_np
    cdef int32_t[::1] failed = failed_np
    cdef int64_t row, p
    cdef TopK* top = NULL
    if n_rows == 0:
        return counts_np, indices_np, values_np
    with nogil, parallel(num_threads=n_threads):
        top = top_k_new(k)
        if top == NULL:
            failed[0] = 1
        for row in prange(n_rows, schedule="dynamic", chunksize=16):
            if failed[0] == 0:
                top_k_reset(top)
                for p in range(ptr[row], ptr[row + 1]):
                    if val[p] != 0.0:
                        top_k_offer(top, val[p], cols[p])
                counts[row] = top_k_finish(top, &out_idx[row * k], &out_val[row * k])
        top_k_free(top)
    if failed[0]:
        raise MemoryError("top-k kernel: could not allocate its per-thread buffers")
    return counts_np, indices_np, values_np


def transpose_top_k(
    const int64_t[::1] counts, const int32_t[::1] indices, const float[::1] values, int64_t k, int64_t n_cols,
):
    """CSR arrays ``(indptr, indices, values)`` of the transpose of a top-k kernel's result.

    The input's row ``r`` holds ``counts[r]`` entries at ``r * k``; output row ``c`` lists
    every ``(r, value)`` with ``r`` kept ``c``, in increasing ``r`` (a counting sort).
    """
    cdef int64_t n = counts.shape[0], r, i, c, p
    indptr_np = np.zeros(n_cols + 1, dtype=np.int64)
    cdef int64_t[::1] indptr = indptr_np
    for r in range(n):
        for i in range(counts[r]):
            c = indices[r * k + i]
            if c < 0 or c >= n_cols:
                raise ValueError(f"column {c} outside [0, {n_cols})")
            indptr[c + 1] += 1
    np.cumsum(indptr_np, out=indptr_np)
    fill_np = indptr_np[:n_cols].copy()
    cdef int64_t[::1] fill = fill_np
    out_idx_np = np.empty(indptr_np[n_cols], dtype=np.int32)
    out_val_np = np.empty(indptr_np[n_cols], dtype=np.float32)
    cdef int32_t[::1] out_idx = out_idx_np
    cdef float[::1] out_val = out_val_np
    with nogil:
        for r in range(n):
            for i in range(counts[r]):
                c = indices[r * k + i]
                p = fill[c]
                fill[c] = p + 1
                out_idx[p] = <int32_t>r
                out_val[p] = values[r * k + i]
    return indptr_np, out_idx_np, out_val_np


def rows_times_sparse(
    const int64_t[::1] l_ptr, const int32_t[::1] l_cols, const float[::1] l_val, const int64_t[::1] rows,
    const int64_t[::1] r_ptr, const int32_t[::1] r_cols, const float[::1] r_val,
    float[:, ::1] out, int n_threads=1,
):
    """``out[b] += sum_i L[rows[b], i] * R[i, :]`` with ``L`` and ``R`` in CSR (``out`` dense)."""
    cdef int64_t n = rows.shape[0], blk
    if out.shape[0] != n:
        raise ValueError(f"out has {out.shape[0]} rows for {n} requested rows")
    if n == 0 or l_cols.shape[0] == 0 or r_cols.shape[0] == 0:
        return
    for blk in prange(n, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=8):
        add_sparse_product_row(&out[blk, 0], rows[blk], &l_ptr[0], &l_cols[0], &l_val[0], &r_ptr[0], &r_cols[0],
                               &r_val[0])


def rows_times_dense(
    const int64_t[::1] l_ptr, const int32_t[::1] l_cols, const float[::1] l_val, const int64_t[::1] rows,
    const float[:, ::1] right, float[:, ::1] out, int n_threads=1,
):
    """``out[b] += sum_i L[rows[b], i] * right[i, :]`` with ``L`` in CSR and ``right`` dense."""
    cdef int64_t n = rows.shape[0], width = right.shape[1], blk
    if out.shape[0] != n or out.shape[1] != width:
        raise ValueError(f"out has shape {tuple(out.shape)[:2]}, expected {(n, width)}")
    if n == 0 or width == 0 or l_cols.shape[0] == 0:
        return
    for blk in prange(n, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=8):
        add_dense_product_row(&out[blk, 0], rows[blk], &l_ptr[0], &l_cols[0], &l_val[0], &right[0, 0], width)
