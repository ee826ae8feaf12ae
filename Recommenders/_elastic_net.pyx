"""Coordinate-descent kernel of SLIM ElasticNet: one non-negative elastic net per item, from the Gram matrix.

For target item ``j``, with ``G = X^T X`` (the item Gram matrix of the training
matrix ``X``, ``n`` users), ``q = G[:, j]`` with ``q_j = 0`` (column ``j`` is
excluded) and ``y2 = G[j, j]``, it minimises over ``w >= 0`` (``w_j = 0``)

    0.5 (y2 - 2 q.w + w.G.w) + l1 ||w||_1 + 0.5 l2 ||w||^2

which is ``n`` times scikit-learn's ``ElasticNet(alpha, l1_ratio, positive=True,
fit_intercept=False)`` objective with ``l1 = n alpha l1_ratio`` and
``l2 = n alpha (1 - l1_ratio)``.

Because ``G >= 0`` and ``w >= 0``, the gradient ``q_k - (G w)_k`` never exceeds
``q_k``: an item with ``q_k <= l1`` (in particular one that never co-occurs with
``j``) keeps ``w_k = 0`` at every step and at the optimum. The problem is solved
exactly on the candidates ``S = {k != j : q_k > l1, G[k, k] > 0}``.

Working set: the solver sweeps only a working set ``A`` of candidates, on a local
copy of ``G[A, A]`` with ``(G w)_A`` kept up to date at every change (cyclic
order, the standard coordinate update ``w_k = max(q_k - (G w)_k + G_kk w_k - l1, 0) / (G_kk + l2)``).
The local Gram's rows are read from the dense Gram in increasing item order and
kept at a stride fitted to ``|A|``. Sweeps on ``A`` stop when the duality gap of
the problem restricted to ``A`` (computed in ``O(|A|)``, when scikit-learn's
coordinate-change test passes) is below ``tol * y2``, or, while the last check
found violators, below ``INNER_GAP_SHARE`` of its gap. Then a check computes the
gradient over all of ``S`` (below), and with it scikit-learn's duality gap of the
whole problem ("formulation A"; "formulation B" when ``l1 = 0``): the item is done
when ``gap <= tol * y2`` (scikit-learn's stopping rule); otherwise candidates
outside ``A`` whose gradient ``g_k`` exceeds ``l1`` join ``A`` and the sweeps go on.
Candidates join ranked by the coefficient each would take alone,
``(g_k - l1) / (G_kk + l2)`` (at ``w = 0``, ``g = q``): the first
``INITIAL_WORKING_SET`` of them, then at most as many as ``A`` holds at each check.
Ranked by ``g_k`` alone, the first working set held the popular items that co-occur
most with ``j`` and mostly end at zero. ``max_iter`` bounds the sweeps (of the working
set, where scikit-learn counts sweeps of all features). A working set full at
``capacity`` first drops its zero coefficients; should the support itself exceed
the capacity, the item keeps the best solution on ``A`` and is counted as not
converged.

Exact screening in the checks: as ``G >= 0``, between two checks no ``(G w)_c``
falls by more than ``||X[:, c]|| ||X d||``, ``d`` the coefficients' falls
(``max(w_before - w, 0)``). A candidate outside ``A`` whose gradient, at its last
exact computation plus this bound summed over the checks since, stays below
``l1 > 0`` is no violator and cannot change the gap (only gradients above ``l1``
enter it), so it is skipped: the gap and the violators are those of a full
check. The others' ``(G w)_c`` come from the data (``X[:, c] . (X w)``, random
reads) or, with the dense Gram when it reads fewer than ``DENSE_ROW_SPEED``
times as many entries, as the sum of the support's dense Gram rows (contiguous,
four rows per pass).

The Gram matrix is either dense (float32, ``n x n``) or sparse (CSC arrays,
float32 values); all arithmetic is float64. Items run in parallel (OpenMP
``prange``, GIL released), each thread with its own workspace; an item's result
does not depend on the number of threads. Each item keeps its ``top_k`` largest
coefficients (ties: the lower item index).
"""

import numpy as np

from cython.parallel cimport parallel, prange
from libc.math cimport fabs, sqrt
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc, qsort
from libc.string cimport memmove, memset

cdef enum:
    INITIAL_SIZE = 128

#: Candidates in the first working set of an item (it then at most doubles at each check).
INITIAL_WORKING_SET = INITIAL_SIZE
#: A working set's sweeps stop when its own gap is below this share of the last whole-problem gap
#: (or below the tolerance): early working sets are not solved more tightly than they are right.
cdef double INNER_GAP_SHARE = 0.3
#: A check sums the support's dense Gram rows (contiguous) for G w when that reads fewer than this many
#: times the entries of the data pass (gathers of X w at the columns of the support and the candidates).
cdef double DENSE_ROW_SPEED = 4.0


cdef struct Gram:
    const float* dense      # n x n row-major, or NULL for the sparse layout
    const int64_t* ptr      # CSC (= CSR: G is symmetric) arrays of the sparse layout
    const int32_t* idx
    const float* val
    const double* diag      # G[k, k]
    const double* norm      # sqrt(G[k, k]) = ||X[:, k]||
    int64_t n
    const int64_t* x_ptr    # CSC arrays of the training matrix X (n_users x n)
    const int32_t* x_idx
    const float* x_val
    int64_t n_users


cdef struct Pair:
    double value
    int32_t item


cdef struct Workspace:
    double* q           # n: G[:, j], j excluded
    double* qw          # n: (G w) at the candidates, at the check of ``at``
    double* at          # n: the path length ``travel`` at which ``qw`` was computed
    double* u           # n_users: X w at the last check
    double* acc         # n: G w from the dense Gram's rows
    int32_t* todo       # n: the candidates a check computes
    double travel       # sum over the item's checks of ||X d||, d: the coefficients' falls since the check before
    int32_t* pos        # n: position of an item in the working set, or -1
    int32_t* candidates # n: the candidate list S
    Pair* pairs         # n: violators / final coefficients, sorted
    int32_t* ws         # capacity: working-set items
    int32_t* keep       # capacity: scratch of ``compact``
    double* w           # capacity: their coefficients
    double* w_last      # capacity: their coefficients at the last check
    double* hw          # capacity: (G w) at the working set
    double* qs          # capacity: q at the working set
    double* ds          # capacity: G[k, k] at the working set
    int64_t* order      # capacity: (item << 32 | position) of the working set, sorted
    float* gw           # G[A, A], rows ``stride`` apart (at most capacity x capacity)
    int64_t stride
    int64_t capacity


cdef int compare_pairs(const void* a, const void* b) noexcept nogil:
    """Larger value first; equal values: lower item first."""
    cdef const Pair* x = <const Pair*> a
    cdef const Pair* y = <const Pair*> b
    if x.value > y.value:
        return -1
    if x.value < y.value:
        return 1
    return (x.item > y.item) - (x.item < y.item)


cdef int compare_int64(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<const int64_t*> a)[0], y = (<const int64_t*> b)[0]
    return (x > y) - (x < y)


cdef void sort_largest(Pair* pairs, int64_t n, int64_t k) noexcept nogil:
    """Puts the ``k`` largest pairs (``compare_pairs`` order) first, sorted; the rest after, unordered."""
    cdef int64_t lo = 0, hi = n - 1, i, store
    cdef Pair pivot, tmp
    if k < n:
        while lo < hi:  # quickselect: pairs[:k] become the k largest
            pivot = pairs[(lo + hi) // 2]
            pairs[(lo + hi) // 2] = pairs[hi]
            pairs[hi] = pivot
            store = lo
            for i in range(lo, hi):
                if compare_pairs(&pairs[i], &pivot) < 0:
                    tmp = pairs[i]
                    pairs[i] = pairs[store]
                    pairs[store] = tmp
                    store += 1
            pairs[hi] = pairs[store]
            pairs[store] = pivot
            if store == k:
                break
            if store < k:
                lo = store + 1
            else:
                hi = store - 1
        n = k
    if n > 1:
        qsort(pairs, n, sizeof(Pair), compare_pairs)


cdef void load_rows(const Gram* g, Workspace* s, int64_t m, int64_t m_new) noexcept nogil:
    """The local Gram of a working set grown from ``m`` to ``m_new`` items: rows ``m..m_new`` (and their
    mirror columns), at a stride re-fitted to ``m_new`` (a tight stride keeps G[A, A] in few pages)."""
    cdef int64_t i, k, t, p, a, stride = s.stride
    cdef float* row
    cdef const float* dense_row
    if m_new > stride:  # move the rows apart, the last first (each row moves to a later place)
        stride = min(s.capacity, (m_new + 15) // 16 * 16)
        for i in range(m - 1, 0, -1):
            memmove(s.gw + i * stride, s.gw + i * s.stride, m * sizeof(float))
        s.stride = stride
    if g.dense != NULL:  # read the dense rows in increasing item order
        for k in range(m_new):
            s.order[k] = (<int64_t> s.ws[k] << 32) | k
        qsort(s.order, m_new, sizeof(int64_t), compare_int64)
    for i in range(m, m_new):
        a = s.ws[i]
        row = s.gw + i * stride
        if g.dense != NULL:
            dense_row = g.dense + a * g.n
            for t in range(m_new):
                row[s.order[t] & <int64_t> 0xFFFFFFFF] = dense_row[s.order[t] >> 32]
        else:
            memset(row, 0, m_new * sizeof(float))
            for p in range(g.ptr[a], g.ptr[a + 1]):
                k = s.pos[g.idx[p]]
                if k >= 0 and k < m_new:
                    row[k] = g.val[p]
        for k in range(m):
            s.gw[k * stride + i] = row[k]


cdef void compact(const Gram* g, Workspace* s, int64_t* m) noexcept nogil:
    """Drop the working set's zero coefficients, keeping the others' order and local Gram."""
    cdef int64_t i, k, kept = 0
    cdef int32_t* keep = s.keep
    for i in range(m[0]):
        if s.w[i] != 0.0:
            keep[kept] = <int32_t> i
            kept += 1
        else:
            s.pos[s.ws[i]] = -1
    for i in range(kept):
        k = keep[i]
        s.ws[i] = s.ws[k]
        s.w[i] = s.w[k]
        s.w_last[i] = s.w_last[k]
        s.hw[i] = s.hw[k]
        s.qs[i] = s.qs[k]
        s.ds[i] = s.ds[k]
        s.pos[s.ws[i]] = <int32_t> i
    for i in range(kept):  # in place: every source lies at or after its destination
        for k in range(kept):
            s.gw[i * s.stride + k] = s.gw[keep[i] * s.stride + keep[k]]
    m[0] = kept


cdef double sweep(Workspace* s, int64_t m, double l1, double l2, double* w_max) noexcept nogil:
    """One cyclic pass over the working set; returns the largest change, sets the largest coefficient."""
    cdef int64_t i, k
    cdef double old, new, tmp, delta, d_max = 0.0, top = 0.0
    cdef const float* row
    for i in range(m):
        old = s.w[i]
        tmp = s.qs[i] - s.hw[i] + old * s.ds[i]
        new = (tmp - l1) / (s.ds[i] + l2) if tmp > l1 else 0.0
        if new != old:
            delta = new - old
            row = s.gw + i * s.stride
            for k in range(m):
                s.hw[k] += delta * row[k]
            s.w[i] = new
            if fabs(delta) > d_max:
                d_max = fabs(delta)
        if new > top:
            top = new
    w_max[0] = top
    return d_max


cdef void add_rows(const Gram* g, Workspace* s, int64_t m) noexcept nogil:
    """``acc = G w``: the sum of the support's dense Gram rows, four at a time (one pass over ``acc``
    per four rows)."""
    cdef int64_t i, k, n_rows = 0
    cdef const float* r0
    cdef const float* r1
    cdef const float* r2
    cdef const float* r3
    cdef double w0, w1, w2, w3
    for i in range(m):
        if s.w[i] != 0.0:
            s.keep[n_rows] = <int32_t> i
            n_rows += 1
    memset(s.acc, 0, g.n * sizeof(double))
    i = 0
    while i + 4 <= n_rows:
        r0 = g.dense + s.ws[s.keep[i]] * g.n
        r1 = g.dense + s.ws[s.keep[i + 1]] * g.n
        r2 = g.dense + s.ws[s.keep[i + 2]] * g.n
        r3 = g.dense + s.ws[s.keep[i + 3]] * g.n
        w0, w1, w2, w3 = s.w[s.keep[i]], s.w[s.keep[i + 1]], s.w[s.keep[i + 2]], s.w[s.keep[i + 3]]
        for k in range(g.n):
            s.acc[k] += (w0 * r0[k] + w1 * r1[k]) + (w2 * r2[k] + w3 * r3[k])
        i += 4
    while i < n_rows:
        r0 = g.dense + s.ws[s.keep[i]] * g.n
        w0 = s.w[s.keep[i]]
        for k in range(g.n):
            s.acc[k] += w0 * r0[k]
        i += 1


cdef double gap_formula(double y2, double q_dot_w, double w_q_w, double w_l1, double w_l2, double dual_norm,
                        double l1, double l2) noexcept nogil:
    """scikit-learn's duality gap from the problem's sums: formulation A, or B (ridge, ``dual_norm`` then
    being ``||X^T R||^2``) when ``l1 = 0``."""
    cdef double r_norm2 = y2 + w_q_w - 2.0 * q_dot_w, r_y = y2 - q_dot_w, primal, dual, scale
    if l1 == 0.0:
        if l2 == 0.0:
            return dual_norm
        return r_norm2 + 0.5 * l2 * w_l2 - r_y + dual_norm / (2.0 * l2)
    primal = 0.5 * (r_norm2 + l2 * w_l2) + l1 * w_l1
    scale = l1 / dual_norm if dual_norm > l1 else 1.0
    dual = -0.5 * scale * scale * (r_norm2 + l2 * w_l2) + scale * r_y
    return primal - dual


cdef double local_gap(Workspace* s, int64_t m, double y2, double l1, double l2) noexcept nogil:
    """The duality gap of the problem restricted to the working set (from the running ``(G w)_A``):
    the whole problem's gap when no candidate outside the working set violates."""
    cdef int64_t i
    cdef double q_dot_w = 0.0, w_q_w = 0.0, w_l1 = 0.0, w_l2 = 0.0, dual_norm = 0.0, xta
    for i in range(m):
        q_dot_w += s.w[i] * s.qs[i]
        w_q_w += s.w[i] * s.hw[i]
        w_l1 += s.w[i]
        w_l2 += s.w[i] * s.w[i]
        xta = s.qs[i] - s.hw[i]
        if l1 == 0.0:
            dual_norm += xta * xta
        elif xta - l2 * s.w[i] > dual_norm:
            dual_norm = xta - l2 * s.w[i]
    return gap_formula(y2, q_dot_w, w_q_w, w_l1, w_l2, dual_norm, l1, l2)


cdef double check(const Gram* g, Workspace* s, int64_t m, int64_t n_candidates, int64_t j, double y2,
                  double l1, double l2, bint first, int64_t* n_violators) noexcept nogil:
    """Duality gap of the whole problem at the current ``w``; the violators outside the working set
    (gradient above ``l1``) go to ``pairs``, ranked by the coefficient each would take alone, the first
    ``max(m, INITIAL_SIZE)`` sorted."""
    cdef int64_t i, c, k, p
    cdef double q_dot_w = 0.0, w_q_w = 0.0, w_l1 = 0.0, w_l2 = 0.0, dual_norm = 0.0, xta, wc, dot
    cdef int64_t v = 0
    cdef double step = 0.0, bound, fall
    cdef int64_t n_support = 0, n_todo = 0, support_nnz = 0, todo_nnz = 0, t
    # ``travel`` grows by ||X d||, d = max(w_last - w, 0) the coefficients' falls since the last check:
    # as G >= 0, no (G w)_c = X[:, c] . (X w) fell by more than ||X[:, c]|| ||X d|| since
    if not first:
        memset(s.u, 0, g.n_users * sizeof(double))
        for i in range(m):
            fall = s.w_last[i] - s.w[i]
            if fall > 0.0:
                c = s.ws[i]
                for p in range(g.x_ptr[c], g.x_ptr[c + 1]):
                    s.u[g.x_idx[p]] += fall * g.x_val[p]
        for p in range(g.n_users):
            step += s.u[p] * s.u[p]
        s.travel += sqrt(step)
    else:
        s.travel = 0.0
    for i in range(m):
        s.w_last[i] = s.w[i]
        if s.w[i] != 0.0:
            n_support += 1
            support_nnz += g.x_ptr[s.ws[i] + 1] - g.x_ptr[s.ws[i]]
            q_dot_w += s.w[i] * s.qs[i]
            w_l1 += s.w[i]
            w_l2 += s.w[i] * s.w[i]
    # the candidates to compute: outside the working set, not screened out
    for i in range(g.n if l1 == 0.0 else n_candidates):
        c = i if l1 == 0.0 else s.candidates[i]
        k = s.pos[c]
        if k >= 0 or first:  # the working set's running sums are (G w) already; at w = 0, G w = 0
            s.qw[c] = s.hw[k] if k >= 0 else 0.0
            s.at[c] = s.travel
            continue
        # exact screening: its gradient q_c - (G w)_c cannot exceed l1 (with a margin for rounding),
        # so it is no violator and does not change the gap; (G w)_c keeps its older value
        bound = s.q[c] - s.qw[c] + g.norm[c] * (s.travel - s.at[c]) * (1.0 + 1e-9) + 1e-9 * (s.q[c] + s.qw[c])
        if l1 != 0.0 and bound < l1:
            continue
        s.todo[n_todo] = <int32_t> c
        n_todo += 1
        todo_nnz += g.x_ptr[c + 1] - g.x_ptr[c]
    if g.dense != NULL and n_support * g.n < DENSE_ROW_SPEED * (support_nnz + todo_nnz):
        # G w = sum of the support's dense Gram rows (contiguous), cheaper than the data's gathers
        add_rows(g, s, m)
        for t in range(n_todo):
            c = s.todo[t]
            s.qw[c] = s.acc[c]
            s.at[c] = s.travel
    elif n_todo > 0:
        # (G w)_c = X[:, c] . (X w)
        memset(s.u, 0, g.n_users * sizeof(double))
        for i in range(m):
            if s.w[i] != 0.0:
                c = s.ws[i]
                for p in range(g.x_ptr[c], g.x_ptr[c + 1]):
                    s.u[g.x_idx[p]] += s.w[i] * g.x_val[p]
        for t in range(n_todo):
            c = s.todo[t]
            dot = 0.0
            for p in range(g.x_ptr[c], g.x_ptr[c + 1]):
                dot += g.x_val[p] * s.u[g.x_idx[p]]
            s.qw[c] = dot
            s.at[c] = s.travel
    for i in range(m):
        w_q_w += s.w[i] * s.hw[i]
    if l1 == 0.0:
        # scikit-learn's formulation B (ridge): ||X^T R||^2 over every feature but the target
        for k in range(g.n):
            if k != j:
                xta = s.q[k] - s.qw[k]
                dual_norm += xta * xta
    for i in range(n_candidates):
        c = s.candidates[i]
        k = s.pos[c]
        wc = s.w[k] if k >= 0 else 0.0
        xta = s.q[c] - s.qw[c] - l2 * wc
        if l1 != 0.0 and xta > dual_norm:
            dual_norm = xta
        if k < 0 and xta > l1:  # its coefficient were it alone: (gradient - l1) / (G_cc + l2)
            s.pairs[v].value = (xta - l1) / (g.diag[c] + l2)
            s.pairs[v].item = <int32_t> c
            v += 1
    sort_largest(s.pairs, v, max(m, <int64_t> INITIAL_SIZE))
    n_violators[0] = v
    return gap_formula(y2, q_dot_w, w_q_w, w_l1, w_l2, dual_norm, l1, l2)


cdef int64_t solve_item(const Gram* g, Workspace* s, int64_t j, double l1, double l2, double tol, int max_iter,
                        int64_t top_k, int32_t* out_idx, float* out_val, int32_t* sweeps,
                        char* converged) noexcept nogil:
    """Solve item ``j``; writes its ``top_k`` largest coefficients and returns how many."""
    cdef int64_t n = g.n, k, p, i, m = 0, n_candidates = 0, n_violators = 0, room, n_out = 0, added
    cdef double y2 = g.diag[j], gap, d_max, w_max, target
    cdef int n_sweeps = 0
    cdef bint done = False
    s.stride = 0
    # q = G[:, j] without j, and the candidates
    if g.dense != NULL:
        for k in range(n):
            s.q[k] = g.dense[j * n + k]
    else:
        for p in range(g.ptr[j], g.ptr[j + 1]):
            s.q[g.idx[p]] = g.val[p]
    s.q[j] = 0.0
    if g.dense != NULL:
        for k in range(n):
            if s.q[k] > l1 and g.diag[k] > 0.0:
                s.candidates[n_candidates] = <int32_t> k
                n_candidates += 1
    else:
        for p in range(g.ptr[j], g.ptr[j + 1]):
            k = g.idx[p]
            if s.q[k] > l1 and g.diag[k] > 0.0:
                s.candidates[n_candidates] = <int32_t> k
                n_candidates += 1
    converged[0] = 1
    if n_candidates > 0:
        converged[0] = 0
        # the first check at w = 0 lists every candidate as a violator, largest (q - l1) / (G_kk + l2) first
        gap = check(g, s, m, n_candidates, j, y2, l1, l2, True, &n_violators)
        while True:
            if gap <= tol * y2:
                converged[0] = 1
                break
            if n_sweeps >= max_iter:
                break
            if n_violators > 0:
                if m + n_violators > s.capacity and m > 0:
                    compact(g, s, &m)
                room = s.capacity - m
                if m == 0:
                    room = min(room, <int64_t> INITIAL_SIZE)
                else:
                    room = min(room, max(m, <int64_t> INITIAL_SIZE))
                added = min(room, n_violators)
                for i in range(added):
                    k = s.pairs[i].item
                    s.ws[m + i] = <int32_t> k
                    s.pos[k] = <int32_t> (m + i)
                    s.w[m + i] = 0.0
                    s.w_last[m + i] = 0.0
                    s.hw[m + i] = s.qw[k]
                    s.qs[m + i] = s.q[k]
                    s.ds[m + i] = g.diag[k]
                load_rows(g, s, m, m + added)
                m += added
            # sweeps until the working set's own gap is small (checked when scikit-learn's
            # coordinate-change test passes, or while candidates are still joining), then a check of
            # the whole problem
            while n_sweeps < max_iter:
                d_max = sweep(s, m, l1, l2, &w_max)
                n_sweeps += 1
                target = tol * y2 if n_violators == 0 else max(tol * y2, INNER_GAP_SHARE * gap)
                if (w_max == 0.0 or d_max / w_max <= tol or n_violators > 0) and local_gap(s, m, y2, l1, l2) <= target:
                    break
            gap = check(g, s, m, n_candidates, j, y2, l1, l2, False, &n_violators)
        # the kept coefficients, largest first
        for i in range(m):
            if <float> s.w[i] > 0.0:
                s.pairs[n_out].value = s.w[i]
                s.pairs[n_out].item = s.ws[i]
                n_out += 1
        if n_out > 1:
            qsort(s.pairs, n_out, sizeof(Pair), compare_pairs)
        n_out = min(n_out, top_k)
        for i in range(n_out):
            out_idx[i] = s.pairs[i].item
            out_val[i] = <float> s.pairs[i].value
    # reset the workspace for the next item
    if g.dense != NULL:
        memset(s.q, 0, n * sizeof(double))
    else:
        for p in range(g.ptr[j], g.ptr[j + 1]):
            s.q[g.idx[p]] = 0.0
    s.q[j] = 0.0
    for i in range(m):
        s.pos[s.ws[i]] = -1
    sweeps[0] = n_sweeps
    return n_out


cdef Workspace* workspace_new(int64_t n, int64_t n_users, int64_t capacity) noexcept nogil:
    cdef Workspace* s = <Workspace*> calloc(1, sizeof(Workspace))
    cdef int64_t k
    if s == NULL:
        return NULL
    s.capacity = capacity
    s.q = <double*> calloc(n, sizeof(double))
    s.qw = <double*> malloc(n * sizeof(double))
    s.u = <double*> malloc(n_users * sizeof(double))
    s.at = <double*> malloc(n * sizeof(double))
    s.todo = <int32_t*> malloc(n * sizeof(int32_t))
    s.acc = <double*> malloc(n * sizeof(double))
    s.pos = <int32_t*> malloc(n * sizeof(int32_t))
    s.candidates = <int32_t*> malloc(n * sizeof(int32_t))
    s.pairs = <Pair*> malloc(n * sizeof(Pair))
    s.ws = <int32_t*> malloc(capacity * sizeof(int32_t))
    s.keep = <int32_t*> malloc(capacity * sizeof(int32_t))
    s.w = <double*> malloc(capacity * sizeof(double))
    s.w_last = <double*> malloc(capacity * sizeof(double))
    s.hw = <double*> malloc(capacity * sizeof(double))
    s.qs = <double*> malloc(capacity * sizeof(double))
    s.ds = <double*> malloc(capacity * sizeof(double))
    s.gw = <float*> malloc(capacity * capacity * sizeof(float))
    s.order = <int64_t*> malloc(capacity * sizeof(int64_t))
    if s.pos != NULL:
        for k in range(n):
            s.pos[k] = -1
    return s


cdef bint workspace_ok(const Workspace* s) noexcept nogil:
    return (s != NULL and s.q != NULL and s.qw != NULL and s.u != NULL and s.w_last != NULL and s.at != NULL
            and s.todo != NULL and s.acc != NULL and s.pos != NULL and s.candidates != NULL and s.pairs != NULL
            and s.ws != NULL and s.keep != NULL and s.w != NULL and s.hw != NULL and s.qs != NULL and s.ds != NULL
            and s.gw != NULL and s.order != NULL)


cdef void workspace_free(Workspace* s) noexcept nogil:
    if s == NULL:
        return
    free(s.q)
    free(s.qw)
    free(s.u)
    free(s.w_last)
    free(s.at)
    free(s.todo)
    free(s.acc)
    free(s.pos)
    free(s.candidates)
    free(s.pairs)
    free(s.ws)
    free(s.keep)
    free(s.w)
    free(s.hw)
    free(s.qs)
    free(s.ds)
    free(s.gw)
    free(s.order)
    free(s)


def workspace_bytes(int64_t n, int64_t n_users, int64_t capacity):
    """Bytes of one thread's workspace."""
    return n_users * 8 + n * (8 + 8 + 8 + 8 + 4 + 4 + 4 + 16) + capacity * (4 + 4 + 8 + 8 * 5) + capacity * capacity * 4


def slim_elastic_net(
    const int64_t[::1] x_ptr, const int32_t[::1] x_idx, const float[::1] x_val, int64_t n_users,
    const float[:, ::1] dense, const int64_t[::1] ptr, const int32_t[::1] idx, const float[::1] val,
    const double[::1] diag, const int32_t[::1] items, double l1, double l2, double tol, int max_iter,
    int64_t top_k, int64_t capacity, int n_threads=1,
):
    """Solve the listed ``items`` (module docstring) from a dense Gram (``dense``, ``n x n``) or, when
    ``dense`` is ``0 x 0``, a sparse one (``ptr/idx/val``, CSC).

    Returns ``(counts, indices, values, sweeps, converged)``: ``items[t]`` keeps ``counts[t]``
    coefficients at ``indices/values[t * top_k : t * top_k + counts[t]]`` (largest first);
    ``sweeps[t]`` working-set sweeps, ``converged[t]`` whether the gap reached ``tol * y2``.
    """
    cdef int64_t n = diag.shape[0], n_items = items.shape[0], t
    cdef Gram g
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if l1 < 0 or l2 < 0 or tol < 0 or max_iter < 1:
        raise ValueError("l1, l2 and tol must be non-negative and max_iter positive")
    if dense.shape[0] != 0:
        if dense.shape[0] != n or dense.shape[1] != n:
            raise ValueError(f"dense Gram has shape {(dense.shape[0], dense.shape[1])}, expected {(n, n)}")
        g.dense = &dense[0, 0]
    else:
        if ptr.shape[0] != n + 1 or idx.shape[0] != val.shape[0] or (n > 0 and ptr[n] != idx.shape[0]):
            raise ValueError("sparse Gram arrays do not describe an n x n matrix")
        g.dense = NULL
        g.ptr = &ptr[0]
        g.idx = &idx[0] if idx.shape[0] else NULL
        g.val = &val[0] if val.shape[0] else NULL
    g.n = n
    if x_ptr.shape[0] != n + 1 or x_idx.shape[0] != x_val.shape[0] or x_ptr[n] != x_idx.shape[0] or n_users < 1:
        raise ValueError("the training matrix's CSC arrays do not match the Gram matrix")
    g.x_ptr = &x_ptr[0]
    g.x_idx = &x_idx[0] if x_idx.shape[0] else NULL
    g.x_val = &x_val[0] if x_val.shape[0] else NULL
    g.n_users = n_users
    if n_items and (np.min(items) < 0 or np.max(items) >= n):
        raise ValueError(f"items must lie in [0, {n})")
    counts_np = np.zeros(n_items, dtype=np.int64)
    indices_np = np.empty(n_items * top_k, dtype=np.int32)
    values_np = np.empty(n_items * top_k, dtype=np.float32)
    sweeps_np = np.zeros(n_items, dtype=np.int32)
    converged_np = np.zeros(n_items, dtype=np.int8)
    failed_np = np.zeros(1, dtype=np.int32)
    if n_items == 0:
        return counts_np, indices_np, values_np, sweeps_np, converged_np.astype(bool)
    g.diag = &diag[0]
    norm_np = np.sqrt(np.maximum(np.asarray(diag), 0.0))
    cdef const double[::1] norm = norm_np
    g.norm = &norm[0]
    capacity = max(1, min(capacity, n))
    cdef int64_t[::1] counts = counts_np
    cdef int32_t[::1] out_idx = indices_np
    cdef float[::1] out_val = values_np
    cdef int32_t[::1] sweeps = sweeps_np
    cdef signed char[::1] conv = converged_np
    cdef int32_t[::1] failed = failed_np
    cdef Workspace* s = NULL
    with nogil, parallel(num_threads=n_threads):
        s = workspace_new(n, n_users, capacity)
        if not workspace_ok(s):
            failed[0] = 1
        for t in prange(n_items, schedule="dynamic", chunksize=1):
            if failed[0] == 0:
                counts[t] = solve_item(&g, s, items[t], l1, l2, tol, max_iter, top_k, &out_idx[t * top_k],
                                       &out_val[t * top_k], &sweeps[t], <char*> &conv[t])
        workspace_free(s)
    if failed[0]:
        raise MemoryError("SLIM ElasticNet kernel: could not allocate its per-thread workspaces")
    return counts_np, indices_np, values_np, sweeps_np, converged_np.astype(bool)
