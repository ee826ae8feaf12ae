# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The non-inline pieces of ``_sgd_common.pxd`` (see its docstring), and their Python helpers."""

import numpy as np

SGD_MODES = ("sgd", "adagrad", "adam")


cdef Rng rng_from_seed_sequence(seed_sequence):
    cdef Rng r
    state = seed_sequence.generate_state(4, np.uint64)
    r.s0, r.s1, r.s2, r.s3 = int(state[0]), int(state[1]), int(state[2]), int(state[3])
    if r.s0 == 0 and r.s1 == 0 and r.s2 == 0 and r.s3 == 0:
        r.s0 = 1
    return r


cdef Optimizer make_optimizer(str sgd_mode) except *:
    cdef Optimizer opt
    if sgd_mode not in SGD_MODES:
        raise ValueError(f"sgd_mode must be one of {SGD_MODES}, got {sgd_mode!r}")
    opt.mode = SGD_MODES.index(sgd_mode)
    set_adam_step(&opt, ADAM_BETA_1, ADAM_BETA_2)
    return opt


def optimizer_state_arrays(str sgd_mode, shape):
    """Zeroed optimizer state for a parameter array of ``shape``: ``(s1, s2)``;
    arrays of size 0 where the mode keeps no such state."""
    if sgd_mode not in SGD_MODES:
        raise ValueError(f"sgd_mode must be one of {SGD_MODES}, got {sgd_mode!r}")
    empty = np.zeros((0,) * len(shape), dtype=np.float64)
    s1 = np.zeros(shape, dtype=np.float64) if sgd_mode != "sgd" else empty
    s2 = np.zeros(shape, dtype=np.float64) if sgd_mode == "adam" else empty
    return s1, s2


cdef Profiles make_profiles(const long long[::1] indptr, const int[::1] indices, const float[::1] data,
                            const int[::1] eligible_users, Py_ssize_t n_items):
    cdef Profiles p
    p.indptr = &indptr[0]
    p.indices = &indices[0] if indices.shape[0] > 0 else NULL
    p.data = &data[0] if data.shape[0] > 0 else NULL
    p.eligible_users = &eligible_users[0]
    p.n_eligible = eligible_users.shape[0]
    p.n_items = n_items
    return p


def eligible_users(indptr, Py_ssize_t n_items):
    """Users with at least one and fewer than ``n_items`` interactions, as int32 (``ValueError``
    for 2^31 users or more, which int32 cannot number)."""
    if len(indptr) - 1 >= 2**31:
        raise ValueError(f"the SGD kernels number at most 2147483647 users with int32, got {len(indptr) - 1}")
    lengths = np.diff(np.asarray(indptr))
    users = np.flatnonzero((lengths > 0) & (lengths < n_items)).astype(np.int32)
    if users.size == 0:
        raise ValueError("no user has both an interaction and a non-interacted item: nothing to sample")
    return users
