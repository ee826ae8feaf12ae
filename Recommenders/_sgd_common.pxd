# Shared pieces of the SGD engines ``_mf_sgd`` (matrix factorization) and ``_slim_bpr_sgd``.
#
# - a seeded xoshiro256** random stream (``Rng``), one per engine, so that a fit is
#   reproducible from its seed;
# - the samplers: a user drawn uniformly among those with at least one and fewer
#   than ``n_items`` interactions, one of their items uniformly (a positive), and an
#   item they never interacted with (a negative, by rejection with a binary search
#   of the sorted profile);
# - the adaptive update ``direction(g)`` of a gradient ``g`` (ascent direction):
#   ``sgd``: ``g``; ``adagrad``: ``G += g^2``, ``g / (sqrt(G) + 1e-8)``;
#   ``adam``: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
#   ``(m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + 1e-8)`` with ``b1 = 0.9``,
#   ``b2 = 0.999`` and ``t`` the number of the current (mini-)batch, starting at 1.
#   State is kept per parameter and only the parameters a batch touches are updated.
#
# The inline functions are compiled into each engine; ``_sgd_common.pyx`` holds the
# others and the Python-level helpers; the C helpers are in ``sgd_helpers.h``.


from libc.math cimport log1p
from libc.stdint cimport uint64_t

cdef extern from "sgd_helpers.h":
    double ADAM_BETA_1 "SGD_ADAM_BETA_1"
    double ADAM_BETA_2 "SGD_ADAM_BETA_2"
    double ADAPTIVE_EPSILON "SGD_ADAPTIVE_EPSILON"
    void sgd_prefetch(const void* address) noexcept nogil
    double sgd_adagrad_direction(double g, double* s1, double eps) noexcept nogil
    double sgd_adam_direction(double g, double* s1, double* s2, double b1, double b2, double m_correction,
                              double v_correction, double eps) noexcept nogil
    void sgd_adagrad_row(double lr, double* values, const double* grad, double scale, double* s1, double eps,
                         Py_ssize_t f) noexcept nogil
    void sgd_adam_row(double lr, double* values, const double* grad, double scale, double* s1, double* s2,
                      double b1, double b2, double m_correction, double v_correction, double eps,
                      Py_ssize_t f) noexcept nogil

cdef enum:
    MODE_SGD = 0
    MODE_ADAGRAD = 1
    MODE_ADAM = 2


# ---------------------------------------------------------------- random numbers

cdef struct Rng:
    uint64_t s0, s1, s2, s3


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t rng_next(Rng* r) noexcept nogil:
    """xoshiro256** (Blackman and Vigna)."""
    cdef uint64_t result = _rotl(r.s1 * 5, 7) * 9
    cdef uint64_t t = r.s1 << 17
    r.s2 ^= r.s0
    r.s3 ^= r.s1
    r.s1 ^= r.s2
    r.s0 ^= r.s3
    r.s2 ^= t
    r.s3 = _rotl(r.s3, 45)
    return result


cdef inline Py_ssize_t rng_below(Rng* r, Py_ssize_t n) noexcept nogil:
    """Uniform integer in ``[0, n)`` (multiply-shift; ``n < 2**32``)."""
    return <Py_ssize_t>(((rng_next(r) >> 32) * <uint64_t>n) >> 32)


cdef inline double rng_unit(Rng* r) noexcept nogil:
    """Uniform double in ``[0, 1)``."""
    return <double>(rng_next(r) >> 11) * (1.0 / 9007199254740992.0)



cdef Rng rng_from_seed_sequence(seed_sequence)


# ---------------------------------------------------------------- adaptive updates

cdef struct Optimizer:
    int mode
    double beta_1_power, beta_2_power  # b1^t, b2^t
    double m_correction, v_correction  # 1 / (1 - b1^t), 1 / (1 - b2^t)



cdef inline double direction(Optimizer* opt, double g, double* s1, double* s2, Py_ssize_t k) noexcept nogil:
    """Ascent direction for gradient ``g`` of parameter ``k``, updating its state in ``s1``/``s2``."""
    if opt.mode == MODE_ADAGRAD:
        return sgd_adagrad_direction(g, s1 + k, ADAPTIVE_EPSILON)
    if opt.mode == MODE_ADAM:
        return sgd_adam_direction(g, s1 + k, s2 + k, ADAM_BETA_1, ADAM_BETA_2, opt.m_correction,
                                  opt.v_correction, ADAPTIVE_EPSILON)
    return g


cdef inline void ascend_row(Optimizer* opt, double lr, double* values, const double* grad, double scale,
                            double* s1, double* s2, Py_ssize_t first, Py_ssize_t f) noexcept nogil:
    """``values[k] += lr * direction(grad[k] * scale)`` for ``k < f``, the state of ``values[k]`` being
    at ``first + k`` of ``s1``/``s2`` (one vectorisable loop per mode)."""
    cdef Py_ssize_t k
    if opt.mode == MODE_SGD:
        for k in range(f):
            values[k] += lr * (grad[k] * scale)
    elif opt.mode == MODE_ADAGRAD:
        sgd_adagrad_row(lr, values, grad, scale, s1 + first, ADAPTIVE_EPSILON, f)
    else:
        sgd_adam_row(lr, values, grad, scale, s1 + first, s2 + first, ADAM_BETA_1, ADAM_BETA_2,
                     opt.m_correction, opt.v_correction, ADAPTIVE_EPSILON, f)


cdef inline void set_adam_step(Optimizer* opt, double beta_1_power, double beta_2_power) noexcept nogil:
    opt.beta_1_power = beta_1_power
    opt.beta_2_power = beta_2_power
    opt.m_correction = 1.0 / (1.0 - beta_1_power)
    opt.v_correction = 1.0 / (1.0 - beta_2_power)


cdef inline void next_batch(Optimizer* opt) noexcept nogil:
    if opt.mode == MODE_ADAM:
        set_adam_step(opt, opt.beta_1_power * ADAM_BETA_1, opt.beta_2_power * ADAM_BETA_2)



cdef Optimizer make_optimizer(str sgd_mode) except *


cdef inline double* data_or_null(double[::1] array) noexcept:
    return &array[0] if array.shape[0] > 0 else NULL


cdef inline double* data_or_null_2d(double[:, ::1] array) noexcept:
    return &array[0, 0] if array.shape[0] > 0 else NULL


# ---------------------------------------------------------------- sampling

cdef struct Profiles:
    const long long* indptr
    const int* indices
    const float* data
    const int* eligible_users
    Py_ssize_t n_eligible, n_items



cdef Profiles make_profiles(const long long[::1] indptr, const int[::1] indices, const float[::1] data,
                            const int[::1] eligible_users, Py_ssize_t n_items)


cdef inline bint is_seen(const int* indices, Py_ssize_t start, Py_ssize_t end, Py_ssize_t item) noexcept nogil:
    """Binary search of ``item`` in the sorted ``indices[start:end]``, without branches on the
    comparisons (they are unpredictable; a conditional move is not)."""
    cdef Py_ssize_t n = end - start, half
    cdef const int* base = indices + start
    if n == 0:
        return False
    while n > 1:
        half = n >> 1
        base = base + half if base[half] <= item else base
        n -= half
    return base[0] == item


cdef inline Py_ssize_t sample_user(Profiles* p, Rng* rng) noexcept nogil:
    return p.eligible_users[rng_below(rng, p.n_eligible)]


cdef inline Py_ssize_t sample_negative(Profiles* p, Rng* rng, Py_ssize_t user) noexcept nogil:
    cdef Py_ssize_t item
    while True:
        item = rng_below(rng, p.n_items)
        if not is_seen(p.indices, p.indptr[user], p.indptr[user + 1], item):
            return item


cdef inline double bpr_loss(double x, double exp_x) noexcept nogil:
    """``-log(sigmoid(x))``, computed stably from ``x`` and ``exp(x)``."""
    if x > 0:
        return log1p(1.0 / exp_x)
    return -x + log1p(exp_x)
