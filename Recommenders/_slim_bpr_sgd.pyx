# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The SGD engine of SLIM-BPR, with its sparse (hash-row) storage (shared pieces: ``_sgd_common.pxd``).

The samples are applied one after the other: every step reads the weights the
previous step wrote, which keeps a fit identical for a given seed whatever the
number of cores (only the pruning of the hash rows runs in threads).
"""

cimport cython
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memset

from Recommenders._sgd_common cimport (
    Optimizer,
    Profiles,
    Rng,
    bpr_loss,
    data_or_null,
    direction,
    make_optimizer,
    make_profiles,
    next_batch,
    rng_below,
    rng_from_seed_sequence,
    sample_negative,
    sample_user,
)

import numpy as np

from Recommenders._sgd_common import eligible_users


cdef struct HashRow:
    # open addressing, linear probing; key -1 marks an empty slot
    int* keys
    double* values
    int capacity  # a power of two, or 0 for an empty row
    int size


cdef struct Entry:
    double value
    int key


cdef inline Py_ssize_t _slot_of(HashRow* row, int key) noexcept nogil:
    cdef Py_ssize_t mask = row.capacity - 1
    cdef Py_ssize_t slot = (<unsigned int>key * 2654435761u) & mask
    while row.keys[slot] != key and row.keys[slot] != -1:
        slot = (slot + 1) & mask
    return slot


cdef inline double hash_get(HashRow* row, int key) noexcept nogil:
    if row.capacity == 0:
        return 0.0
    cdef Py_ssize_t slot = _slot_of(row, key)
    return row.values[slot] if row.keys[slot] == key else 0.0


cdef int _hash_resize(HashRow* row, int capacity) noexcept nogil:
    """Rehash ``row`` into ``capacity`` slots; returns -1 when out of memory."""
    cdef int* old_keys = row.keys
    cdef double* old_values = row.values
    cdef int old_capacity = row.capacity, i
    cdef Py_ssize_t slot
    row.keys = <int*>malloc(capacity * sizeof(int))
    row.values = <double*>malloc(capacity * sizeof(double))
    if row.keys == NULL or row.values == NULL:
        free(row.keys)
        free(row.values)
        row.keys, row.values, row.capacity = old_keys, old_values, old_capacity
        return -1
    row.capacity = capacity
    for i in range(capacity):
        row.keys[i] = -1
    for i in range(old_capacity):
        if old_keys[i] != -1:
            slot = _slot_of(row, old_keys[i])
            row.keys[slot] = old_keys[i]
            row.values[slot] = old_values[i]
    free(old_keys)
    free(old_values)
    return 0


cdef inline int hash_add(HashRow* row, int key, double delta) noexcept nogil:
    """``row[key] += delta``; returns -1 when out of memory."""
    cdef Py_ssize_t slot
    if 2 * (row.size + 1) > row.capacity:
        if _hash_resize(row, 8 if row.capacity == 0 else 2 * row.capacity) != 0:
            return -1
    slot = _slot_of(row, key)
    if row.keys[slot] == -1:
        row.keys[slot] = key
        row.values[slot] = 0.0
        row.size += 1
    row.values[slot] += delta
    return 0


cdef int _by_value_then_key(const void* a, const void* b) noexcept nogil:
    cdef const Entry* x = <const Entry*>a
    cdef const Entry* y = <const Entry*>b
    if x.value != y.value:
        return -1 if x.value > y.value else 1
    return x.key - y.key


cdef Py_ssize_t _top_entries(HashRow* row, Entry* out, Py_ssize_t k) noexcept nogil:
    """The ``k`` largest entries of ``row`` (ties: lower key) into ``out``, best first; returns their count."""
    cdef Py_ssize_t n = 0, i
    for i in range(row.capacity):
        if row.keys[i] != -1:
            out[n].value = row.values[i]
            out[n].key = row.keys[i]
            n += 1
    qsort(out, n, sizeof(Entry), _by_value_then_key)
    return n if n < k else k


cdef int _prune_row(HashRow* row, Py_ssize_t k) noexcept nogil:
    """Keep the ``k`` largest entries of ``row``; returns -1 when out of memory."""
    cdef Py_ssize_t kept, i, slot
    cdef int capacity = 8
    if row.size <= k:
        return 0
    cdef Entry* entries = <Entry*>malloc(row.size * sizeof(Entry))
    if entries == NULL:
        return -1
    kept = _top_entries(row, entries, k)
    while capacity < 2 * kept:
        capacity *= 2
    free(row.keys)
    free(row.values)
    row.keys, row.values, row.capacity, row.size = NULL, NULL, 0, 0
    if _hash_resize(row, capacity) != 0:
        free(entries)
        return -1
    for i in range(kept):
        slot = _slot_of(row, entries[i].key)
        row.keys[slot] = entries[i].key
        row.values[slot] = entries[i].value
    row.size = <int>kept
    free(entries)
    return 0


cdef int _out_of_memory(const char* action) except -1 nogil:
    """Raise the ``MemoryError`` of sparse similarity rows that could not be allocated."""
    with gil:
        raise MemoryError(f"SLIM_BPR: out of memory {action.decode()} the sparse similarity rows")


@cython.final
cdef class SlimBPRSGD:
    """SGD for SLIM-BPR on an item x item matrix ``S`` (row: the scored item, column: a profile item).

    A sample ``(u, i, j)`` (positive ``i``, negative ``j``) has
    ``x_uij = sum_{l in I(u)} S[i, l] - S[j, l]`` and ``g = 1 / (1 + exp(x_uij))``; with the
    adaptive directions ``d_i, d_j`` of ``g`` (optimizer state per item), for every ``l`` in
    ``I(u)``: ``S[i, l] += lr (d_i - lambda_i S[i, l])`` (``l != i``) and
    ``S[j, l] -= lr (d_j + lambda_j S[j, l])``. An epoch is ``n_users`` samples, and
    Adam's step advances per sample.

    Storage: ``dense``, an ``n_items x n_items`` float64 array owned by the caller
    (``symmetric`` keeps ``S[i, l] = S[l, i]`` in its lower triangle), or, when ``dense``
    is None, one hash table per row, pruned to its ``top_k`` largest entries every
    ``n_users // 5`` samples (never symmetric).
    """

    cdef Profiles profiles
    cdef Rng rng
    cdef Optimizer opt
    cdef object _keep_alive
    cdef double[:, ::1] dense
    cdef bint use_dense, symmetric
    cdef HashRow* rows
    cdef Py_ssize_t n_items, n_users, top_k, prune_every, samples_done
    cdef double learning_rate, lambda_i, lambda_j
    cdef double* s1
    cdef double* s2

    def __cinit__(self):
        self.rows = NULL
        self.n_items = 0

    def __init__(self, indptr, indices, data, Py_ssize_t n_items, dense, state, *, str sgd_mode,
                 double learning_rate, double lambda_i, double lambda_j, bint symmetric, Py_ssize_t top_k,
                 seed_sequence):
        if top_k < 1:
            raise ValueError(f"topK must be a positive integer, got {top_k}")
        self.opt = make_optimizer(sgd_mode)
        users = eligible_users(indptr, n_items)
        self.profiles = make_profiles(indptr, indices, data, users, n_items)
        self.rng = rng_from_seed_sequence(seed_sequence)
        self.n_users = len(indptr) - 1
        self.use_dense = dense is not None
        self.symmetric = symmetric and self.use_dense
        self.top_k = top_k
        self.prune_every = max(1, self.n_users // 5)
        self.samples_done = 0
        self.learning_rate, self.lambda_i, self.lambda_j = learning_rate, lambda_i, lambda_j
        self.s1, self.s2 = data_or_null(state[0]), data_or_null(state[1])
        self._keep_alive = (indptr, indices, data, users, dense, state)
        if self.use_dense:
            self.dense = dense
        else:
            self.rows = <HashRow*>malloc(n_items * sizeof(HashRow))
            if self.rows == NULL:
                raise MemoryError("SLIM_BPR: cannot allocate the sparse similarity rows")
            memset(self.rows, 0, n_items * sizeof(HashRow))
        self.n_items = n_items

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.rows != NULL:
            for i in range(self.n_items):
                free(self.rows[i].keys)
                free(self.rows[i].values)
            free(self.rows)

    cdef inline double _get(self, Py_ssize_t row, Py_ssize_t col) noexcept nogil:
        if not self.use_dense:
            return hash_get(&self.rows[row], <int>col)
        if self.symmetric and col > row:
            return self.dense[col, row]
        return self.dense[row, col]

    cdef inline int _add(self, Py_ssize_t row, Py_ssize_t col, double delta) noexcept nogil:
        if not self.use_dense:
            return hash_add(&self.rows[row], <int>col, delta)
        if self.symmetric and col > row:
            self.dense[col, row] += delta
        else:
            self.dense[row, col] += delta
        return 0

    cdef double _sample(self, Py_ssize_t user, Py_ssize_t pos, Py_ssize_t neg) except -1.0 nogil:
        """One update; returns ``-log sigmoid(x_uij)``. Raises ``MemoryError`` when the sparse rows
        cannot grow."""
        cdef Py_ssize_t start = self.profiles.indptr[user], end = self.profiles.indptr[user + 1], index, l
        cdef double x = 0.0, e, g, d_i, d_j, lr = self.learning_rate
        for index in range(start, end):
            l = self.profiles.indices[index]
            x += self._get(pos, l) - self._get(neg, l)
        e = exp(x)
        g = 1.0 / (1.0 + e)
        d_i = direction(&self.opt, g, self.s1, self.s2, pos)
        d_j = direction(&self.opt, g, self.s1, self.s2, neg)
        for index in range(start, end):
            l = self.profiles.indices[index]
            if l != pos and self._add(pos, l, lr * (d_i - self.lambda_i * self._get(pos, l))) != 0:
                _out_of_memory(b"growing")
            if self._add(neg, l, -lr * (d_j + self.lambda_j * self._get(neg, l))) != 0:
                _out_of_memory(b"growing")
        next_batch(&self.opt)
        self.samples_done += 1
        if not self.use_dense and self.samples_done % self.prune_every == 0:
            self._prune(1)
        return bpr_loss(x, e)

    cdef int _prune(self, int n_threads) except -1 nogil:
        """Prune every hash row to its ``top_k`` largest entries; ``MemoryError`` when out of memory."""
        cdef Py_ssize_t row
        cdef int failed = 0
        for row in prange(self.n_items, num_threads=n_threads, schedule="dynamic", chunksize=64):
            if _prune_row(&self.rows[row], self.top_k) != 0:
                failed = 1
        if failed:
            _out_of_memory(b"pruning")
        return 0

    def run_epoch(self):
        """``n_users`` samples; returns the mean ``-log sigmoid(x_uij)``."""
        cdef Py_ssize_t n, user, start, end
        cdef double loss = 0.0
        with nogil:
            for n in range(self.n_users):
                user = sample_user(&self.profiles, &self.rng)
                start = self.profiles.indptr[user]
                end = self.profiles.indptr[user + 1]
                loss += self._sample(user, self.profiles.indices[start + rng_below(&self.rng, end - start)],
                                     sample_negative(&self.profiles, &self.rng, user))
        return loss / self.n_users

    def train_sample(self, Py_ssize_t user, Py_ssize_t pos, Py_ssize_t neg):
        """Apply one given sample (lets tests check an update against a re-computation)."""
        self._sample(user, pos, neg)

    def value(self, Py_ssize_t row, Py_ssize_t col):
        """``S[row, col]``."""
        return self._get(row, col)

    def sparse_top_k(self, int n_threads):
        """Sparse storage only: the rows pruned to ``top_k``, as CSR arrays ``(data, indices,
        indptr)`` without the diagonal and zero entries (row: the scored item)."""
        cdef Py_ssize_t row, i, position = 0
        cdef HashRow* r
        if self.use_dense:
            raise RuntimeError("sparse_top_k needs the sparse storage")
        self._prune(n_threads)
        counts = np.zeros(self.n_items + 1, dtype=np.int64)
        cdef long long[::1] c = counts
        for row in range(self.n_items):
            r = &self.rows[row]
            for i in range(r.capacity):
                if r.keys[i] != -1 and r.keys[i] != row and r.values[i] != 0.0:
                    c[row + 1] += 1
        indptr = np.cumsum(counts)
        indices = np.empty(indptr[-1], dtype=np.int32)
        data = np.empty(indptr[-1], dtype=np.float64)
        cdef int[::1] ind = indices
        cdef double[::1] dat = data
        for row in range(self.n_items):
            r = &self.rows[row]
            for i in range(r.capacity):
                if r.keys[i] != -1 and r.keys[i] != row and r.values[i] != 0.0:
                    ind[position] = r.keys[i]
                    dat[position] = r.values[i]
                    position += 1
        return data, indices, indptr


def mirror_lower_triangle(double[:, ::1] S, int n_threads):
    """``S[i, l] = S[l, i]`` for ``l > i``: the full symmetric matrix from its lower triangle."""
    cdef Py_ssize_t n = S.shape[0], i, l
    for i in prange(n, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=16):
        for l in range(i + 1, n):
            S[i, l] = S[l, i]
