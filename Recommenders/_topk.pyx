"""Top-k selection per score row by partial selection (no full sort), parallel over rows.

Order: higher score first; equal scores by lower item id; NaN scores after every
number (among themselves by lower item id). Each (score, item) pair is packed
into one unsigned 64-bit key that sorts in exactly that order, so selection
compares plain integers.

A long row is first read for the maximum of each chunk of ``_CHUNK`` items: the
(k + excluded)-th largest of those maxima is a floor that at least k non-excluded items
reach, so items below it are never kept (rows with fewer than twice as many chunks skip
this). Then each row is read in item id order and in chunks. A chunk none of whose
scores reaches the floor or beats the threshold (the k-th best kept so far) is skipped; otherwise
its items are appended to a per-thread buffer with a branch-free filter. When
the buffer fills, the row's excluded items are dropped from it and a
quickselect keeps the k best, raising the threshold: linear work whatever the
order of the scores. The k survivors are heap-sorted at the end.

``top_k_of_sparse_product`` and ``top_k_of_dense_product`` rank the rows of a product
``L[rows] @ R`` without the dense block of scores: each thread scores one row into
its own buffer of one row (which stays in cache) and ranks it at once. The products
accumulate through ``_row_products``, as ``_similarity.rows_times_sparse`` / ``rows_times_dense``
do, so the scores, and the rankings, are those of ``score_rows`` followed by ``top_k_rows``.
"""

import numpy as np

from cython.parallel import prange, threadid
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.math cimport INFINITY, NAN
from libc.string cimport memcpy, memset

from Recommenders._row_products cimport add_dense_product_row, add_sparse_product_row

cdef enum:
    _CHUNK = 32


cdef inline uint64_t _key(float score, int item) noexcept nogil:
    """Key whose unsigned order is the ranking order: score bits made monotonic
    (NaN lowest, -0 as +0) in the high half, ``~item`` in the low half."""
    cdef uint32_t bits
    if score != score:
        bits = 0
    else:
        score = score + <float> 0.0  # -0.0 becomes +0.0: equal scores get equal bits
        memcpy(&bits, &score, 4)
        bits ^= (-(bits >> 31)) | 0x80000000u
    return ((<uint64_t> bits) << 32) | (0xFFFFFFFFu - <uint32_t> item)


cdef inline float _key_score(uint64_t key) noexcept nogil:
    """The score half of a key back as a float (NaN for the NaN key)."""
    cdef uint32_t bits = <uint32_t> (key >> 32)
    cdef float score
    if bits == 0:
        bits = 0x7FC00000u
    elif bits & 0x80000000u:
        bits ^= 0x80000000u
    else:
        bits = ~bits
    memcpy(&score, &bits, 4)
    return score


cdef inline int _key_item(uint64_t key) noexcept nogil:
    return <int> (0xFFFFFFFFu - <uint32_t> (key & 0xFFFFFFFFu))


cdef inline bint _any_above(const float* scores, Py_ssize_t n, float threshold) noexcept nogil:
    """True when one of the ``n`` scores is above ``threshold`` (branch-free, vectorisable)."""
    cdef bint found = False
    cdef Py_ssize_t offset
    for offset in range(n):
        found = found | (scores[offset] > threshold)
    return found


cdef inline bint _any_at_least(const float* scores, Py_ssize_t n, float floor) noexcept nogil:
    """True when one of the ``n`` scores is at least ``floor`` (branch-free, vectorisable)."""
    cdef bint found = False
    cdef Py_ssize_t offset
    for offset in range(n):
        found = found | (scores[offset] >= floor)
    return found


cdef void _select_nth(uint64_t* keys, Py_ssize_t size, Py_ssize_t nth) noexcept nogil:
    """Quickselect: put the ``nth`` largest key (0-based) at ``nth``, larger ones before it."""
    cdef Py_ssize_t low = 0, high = size - 1, middle, store, i
    cdef uint64_t pivot, key
    while low < high:
        # Median of three moved to ``high`` as the pivot.
        middle = low + (high - low) // 2
        if keys[middle] > keys[low]:
            keys[middle], keys[low] = keys[low], keys[middle]
        if keys[high] > keys[low]:
            keys[high], keys[low] = keys[low], keys[high]
        if keys[middle] > keys[high]:
            keys[middle], keys[high] = keys[high], keys[middle]
        pivot = keys[high]
        # Branch-free partition: keys above the pivot gather at the front.
        store = low
        for i in range(low, high):
            key = keys[i]
            keys[i] = keys[store]
            keys[store] = key
            store += key > pivot
        keys[high] = keys[store]
        keys[store] = pivot
        if store == nth:
            return
        if nth < store:
            high = store - 1
        else:
            low = store + 1


cdef inline void _sift_down(uint64_t* keys, Py_ssize_t size, Py_ssize_t pos) noexcept nogil:
    """Restore the smallest-at-root heap property below ``pos``."""
    cdef uint64_t key = keys[pos]
    cdef Py_ssize_t child
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[pos] = keys[child]
        pos = child
    keys[pos] = key


cdef void _sort_descending(uint64_t* keys, Py_ssize_t size) noexcept nogil:
    """Heap sort, largest key first."""
    cdef Py_ssize_t pos
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(keys, size, pos)
    for pos in range(size - 1, 0, -1):
        keys[0], keys[pos] = keys[pos], keys[0]
        _sift_down(keys, pos, 0)


cdef Py_ssize_t _drop_excluded(uint64_t* keys, Py_ssize_t fresh, Py_ssize_t size,
                               const int* excluded, Py_ssize_t n_excluded, Py_ssize_t* next_excluded) noexcept nogil:
    """Remove excluded items from ``keys[fresh:size]`` (item ids increasing); return the new size."""
    cdef Py_ssize_t read, write = fresh
    cdef int item
    for read in range(fresh, size):
        item = _key_item(keys[read])
        while next_excluded[0] < n_excluded and excluded[next_excluded[0]] < item:
            next_excluded[0] += 1
        if next_excluded[0] < n_excluded and excluded[next_excluded[0]] == item:
            continue
        keys[write] = keys[read]
        write += 1
    return write


cdef inline float _chunk_max(const float* scores) noexcept nogil:
    """The largest of ``_CHUNK`` scores (NaN ignored; -inf when all are NaN), in 8 lanes."""
    cdef float lanes[8]
    cdef float best
    cdef Py_ssize_t offset, lane
    for lane in range(8):
        lanes[lane] = -INFINITY
    for offset in range(0, _CHUNK, 8):
        for lane in range(8):
            lanes[lane] = scores[offset + lane] if scores[offset + lane] > lanes[lane] else lanes[lane]
    best = lanes[0]
    for lane in range(1, 8):
        best = lanes[lane] if lanes[lane] > best else best
    return best


cdef float _score_floor(const float* row, Py_ssize_t n_items, Py_ssize_t needed, uint64_t* maxima) noexcept nogil:
    """A score that at least ``needed`` items reach: the ``needed``-th largest of the full
    chunks' maxima (``maxima`` has room for ``n_items // _CHUNK`` keys). NaN when the row has
    fewer than ``2 * needed`` chunks (the pre-pass would not pay) or that maximum is -inf."""
    cdef Py_ssize_t n_chunks = n_items // _CHUNK, chunk
    cdef float floor
    if n_chunks < 2 * needed:
        return NAN
    for chunk in range(n_chunks):
        maxima[chunk] = _key(_chunk_max(row + chunk * _CHUNK), <int> chunk)
    _select_nth(maxima, n_chunks, needed - 1)
    floor = _key_score(maxima[needed - 1])
    return floor if floor > -INFINITY else NAN


cdef void _rank_row(const float* row, Py_ssize_t n_items, const int* excluded, Py_ssize_t n_excluded,
                    uint64_t* keys, Py_ssize_t capacity, int* out, Py_ssize_t width,
                    uint64_t* maxima) noexcept nogil:
    """Write the row's ``width`` best non-excluded items into ``out``, best first, -1 padded.

    ``excluded`` holds the row's excluded item ids in increasing order; ``keys``
    has room for ``capacity + _CHUNK`` keys (``capacity`` > ``width``), ``maxima`` for
    ``n_items // _CHUNK``. Items below the floor (``_score_floor``: ``width`` non-excluded
    items reach it) are never kept.
    """
    cdef Py_ssize_t size = 0, fresh = 0, next_excluded = 0, item = 0, chunk_stop, position
    cdef bint full = False
    cdef float score, threshold = 0
    cdef float floor = _score_floor(row, n_items, width + n_excluded, maxima)
    while item < n_items:
        chunk_stop = item + _CHUNK if item + _CHUNK < n_items else n_items
        if not full and floor == floor:
            if _any_at_least(row + item, chunk_stop - item, floor):
                for item in range(item, chunk_stop):
                    score = row[item]
                    keys[size] = _key(score, <int> item)
                    size += score >= floor
        elif not full:
            for item in range(item, chunk_stop):
                keys[size] = _key(row[item], <int> item)
                size += 1
        elif threshold == threshold:
            # Later items have higher ids: they beat the kept k-th best only
            # with a strictly higher score.
            if _any_above(row + item, chunk_stop - item, threshold):
                for item in range(item, chunk_stop):
                    score = row[item]
                    keys[size] = _key(score, <int> item)
                    size += score > threshold
        else:
            # The kept k-th best is NaN: any number beats it, a later NaN does not.
            for item in range(item, chunk_stop):
                score = row[item]
                if score == score:
                    keys[size] = _key(score, <int> item)
                    size += 1
        item = chunk_stop
        if size >= capacity:
            size = _drop_excluded(keys, fresh, size, excluded, n_excluded, &next_excluded)
            if size > width:
                _select_nth(keys, size, width - 1)
                size = width
                threshold = _key_score(keys[width - 1])
                full = True
            fresh = size
    size = _drop_excluded(keys, fresh, size, excluded, n_excluded, &next_excluded)
    if size > width:
        _select_nth(keys, size, width - 1)
        size = width
    _sort_descending(keys, size)
    for position in range(size):
        out[position] = _key_item(keys[position])
    for position in range(size, width):
        out[position] = -1


cdef inline Py_ssize_t _keys_capacity(Py_ssize_t width) noexcept nogil:
    return 4 * width if width > 64 else 256


def _check_ranking_arguments(Py_ssize_t n_rows, Py_ssize_t n_items, const long long[::1] excluded_indptr,
                             int n_threads):
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")
    if n_items >= 2**31:
        raise ValueError(f"at most 2**31 - 1 items are supported, got {n_items}")
    if excluded_indptr.shape[0] > 0 and excluded_indptr.shape[0] != n_rows + 1:
        raise ValueError(f"excluded_indptr has {excluded_indptr.shape[0]} entries, expected {n_rows + 1}")


cdef class _RowRanker:
    """One ranking call: its output, its exclusions and per-thread buffers (ranking keys, chunk
    maxima, and for the products a row of scores). ``rank(row, r, thread)`` writes the best items of
    ``row`` into ``out[r]``, skipping row ``r``'s excluded items."""
    cdef int[:, ::1] out
    cdef const long long[::1] excluded_indptr
    cdef const int* excluded
    cdef float[:, ::1] rows
    cdef uint64_t[:, ::1] keys
    cdef uint64_t[:, ::1] maxima
    cdef Py_ssize_t n_items, width, capacity
    cdef bint has_excluded

    def __init__(self, Py_ssize_t n_rows, Py_ssize_t n_items, const long long[::1] excluded_indptr,
                 const int[::1] excluded_indices, int[:, ::1] out, int n_threads, bint with_score_rows):
        _check_ranking_arguments(n_rows, n_items, excluded_indptr, n_threads)
        self.out = out
        self.excluded_indptr = excluded_indptr
        self.has_excluded = excluded_indptr.shape[0] > 0
        self.excluded = &excluded_indices[0] if excluded_indices.shape[0] > 0 else NULL
        self.n_items = n_items
        self.width = out.shape[1]
        self.capacity = _keys_capacity(self.width)
        self.rows = np.empty((n_threads if with_score_rows else 0, n_items), dtype=np.float32)
        self.keys = np.empty((n_threads, self.capacity + _CHUNK), dtype=np.uint64)
        self.maxima = np.empty((n_threads, n_items // _CHUNK + 1), dtype=np.uint64)

    cdef inline float* zeroed_row(self, int thread) noexcept nogil:
        """The thread's score row, set to zero."""
        memset(&self.rows[thread, 0], 0, self.n_items * sizeof(float))
        return &self.rows[thread, 0]

    cdef inline void rank(self, const float* row, Py_ssize_t r, int thread) noexcept nogil:
        cdef Py_ssize_t start = 0, stop = 0
        if self.has_excluded:
            start = self.excluded_indptr[r]
            stop = self.excluded_indptr[r + 1]
        _rank_row(row, self.n_items, self.excluded + start, stop - start, &self.keys[thread, 0], self.capacity,
                  &self.out[r, 0], self.width, &self.maxima[thread, 0])


def top_k_rows(const float[:, ::1] scores, const long long[::1] excluded_indptr,
               const int[::1] excluded_indices, int[:, ::1] out, int n_threads):
    """Fill ``out`` (rows x width) with each row's best items, best first, -1 padded.

    Row ``r`` skips ``excluded_indices[excluded_indptr[r]:excluded_indptr[r + 1]]``
    (sorted ascending); ``excluded_indptr`` is empty when nothing is excluded.
    """
    cdef Py_ssize_t n_rows = scores.shape[0], r
    if n_rows == 0 or out.shape[1] == 0:
        return
    cdef _RowRanker ranker = _RowRanker(n_rows, scores.shape[1], excluded_indptr, excluded_indices, out, n_threads,
                                        False)
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="static"):
            ranker.rank(&scores[r, 0], r, threadid())


def top_k_of_sparse_product(const int64_t[::1] l_ptr, const int32_t[::1] l_cols, const float[::1] l_val,
                            const int64_t[::1] rows, const int64_t[::1] r_ptr, const int32_t[::1] r_cols,
                            const float[::1] r_val, Py_ssize_t n_items, const long long[::1] excluded_indptr,
                            const int[::1] excluded_indices, int[:, ::1] out, int n_threads):
    """``top_k_rows`` of ``L[rows] @ R`` (``L``, ``R`` in CSR, ``R`` with ``n_items`` columns)
    into ``out``, one row at a time per thread."""
    cdef Py_ssize_t n_rows = rows.shape[0], r
    cdef float* row
    if n_rows == 0 or out.shape[1] == 0:
        return
    cdef _RowRanker ranker = _RowRanker(n_rows, n_items, excluded_indptr, excluded_indices, out, n_threads, True)
    cdef bint empty = l_cols.shape[0] == 0 or r_cols.shape[0] == 0
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="dynamic", chunksize=8):
            row = ranker.zeroed_row(threadid())
            if not empty:
                add_sparse_product_row(row, rows[r], &l_ptr[0], &l_cols[0], &l_val[0], &r_ptr[0], &r_cols[0],
                                       &r_val[0])
            ranker.rank(row, r, threadid())


def top_k_of_dense_product(const int64_t[::1] l_ptr, const int32_t[::1] l_cols, const float[::1] l_val,
                           const int64_t[::1] rows, const float[:, ::1] right,
                           const long long[::1] excluded_indptr, const int[::1] excluded_indices,
                           int[:, ::1] out, int n_threads):
    """``top_k_rows`` of ``L[rows] @ right`` (``L`` in CSR, ``right`` dense) into ``out``,
    one row at a time per thread."""
    cdef Py_ssize_t n_rows = rows.shape[0], n_items = right.shape[1], r
    cdef float* row
    if n_rows == 0 or out.shape[1] == 0:
        return
    cdef _RowRanker ranker = _RowRanker(n_rows, n_items, excluded_indptr, excluded_indices, out, n_threads, True)
    cdef bint empty = l_cols.shape[0] == 0 or n_items == 0
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="dynamic", chunksize=8):
            row = ranker.zeroed_row(threadid())
            if not empty:
                add_dense_product_row(row, rows[r], &l_ptr[0], &l_cols[0], &l_val[0], &right[0, 0], n_items)
            ranker.rank(row, r, threadid())
