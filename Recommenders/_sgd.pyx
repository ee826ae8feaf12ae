# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The SGD engine shared by FunkSVD, AsySVD, BPR-MF and SLIM-BPR.

Pieces shared by every model:

- a seeded xoshiro256** random stream (``Rng``), one per engine, so that a fit is
  reproducible from its seed;
- the samplers: a user drawn uniformly among those with at least one and fewer
  than ``n_items`` interactions, one of their items uniformly (a positive), and an
  item they never interacted with (a negative, by rejection with a binary search
  of the sorted profile);
- the adaptive update ``direction(g)`` of a gradient ``g`` (ascent direction):
  ``sgd``: ``g``; ``adagrad``: ``G += g^2``, ``g / (sqrt(G) + 1e-8)``;
  ``adam``: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
  ``(m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + 1e-8)`` with ``b1 = 0.9``,
  ``b2 = 0.999`` and ``t`` the number of the current (mini-)batch, starting at 1.
  State is kept per parameter and only the parameters a batch touches are updated.

The engines are single-threaded: every step reads the parameters the previous
step wrote, which keeps a fit identical for a given seed whatever the number of
cores.
"""

cimport cython
from libc.math cimport exp, log1p, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memset
from cython.parallel cimport prange

import numpy as np

SGD_MODES = ("sgd", "adagrad", "adam")

cdef enum:
    MODE_SGD = 0
    MODE_ADAGRAD = 1
    MODE_ADAM = 2

cdef enum:
    FUNK_SVD = 0
    ASY_SVD = 1
    MF_BPR = 2

MODELS = {"FunkSVD": FUNK_SVD, "AsySVD": ASY_SVD, "BPR": MF_BPR}

cdef double ADAM_BETA_1 = 0.9
cdef double ADAM_BETA_2 = 0.999
cdef double ADAPTIVE_EPSILON = 1e-8


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


cdef Rng rng_from_seed_sequence(seed_sequence):
    cdef Rng r
    state = seed_sequence.generate_state(4, np.uint64)
    r.s0, r.s1, r.s2, r.s3 = int(state[0]), int(state[1]), int(state[2]), int(state[3])
    if r.s0 == 0 and r.s1 == 0 and r.s2 == 0 and r.s3 == 0:
        r.s0 = 1
    return r


# ---------------------------------------------------------------- adaptive updates

cdef struct Optimizer:
    int mode
    double beta_1_power, beta_2_power  # b1^t, b2^t
    double m_correction, v_correction  # 1 / (1 - b1^t), 1 / (1 - b2^t)


cdef extern from *:
    """
    /* The adaptive directions (see ``direction``), and their row updates two lanes at a time
       with SSE2 where available: a sqrt that may set errno keeps the compiler from vectorising
       them, and SSE2's sqrt, division and products round exactly as the scalar code does, so
       results do not depend on the path. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    #if defined(__GNUC__)
    #define sgd_prefetch(address) __builtin_prefetch(address)
    #else
    #define sgd_prefetch(address) ((void)(address))
    #endif
    static inline double sgd_adagrad_direction(double g, double *s1, double eps) {
        *s1 += g * g;
        return g / (sqrt(*s1) + eps);
    }
    static inline double sgd_adam_direction(double g, double *s1, double *s2, double b1, double b2,
                                            double m_correction, double v_correction, double eps) {
        *s1 = b1 * *s1 + (1.0 - b1) * g;
        *s2 = b2 * *s2 + (1.0 - b2) * g * g;
        return *s1 * m_correction / (sqrt(*s2 * v_correction) + eps);
    }
    static void sgd_adagrad_row(double lr, double *values, const double *grad, double scale, double *s1,
                                double eps, Py_ssize_t f) {
        Py_ssize_t k = 0;
    #if defined(__SSE2__)
        for (; k + 2 <= f; k += 2) {
            __m128d g = _mm_mul_pd(_mm_loadu_pd(grad + k), _mm_set1_pd(scale));
            __m128d s = _mm_add_pd(_mm_loadu_pd(s1 + k), _mm_mul_pd(g, g));
            __m128d d = _mm_div_pd(g, _mm_add_pd(_mm_sqrt_pd(s), _mm_set1_pd(eps)));
            _mm_storeu_pd(s1 + k, s);
            _mm_storeu_pd(values + k, _mm_add_pd(_mm_loadu_pd(values + k), _mm_mul_pd(_mm_set1_pd(lr), d)));
        }
    #endif
        for (; k < f; k++)
            values[k] += lr * sgd_adagrad_direction(grad[k] * scale, s1 + k, eps);
    }
    static void sgd_adam_row(double lr, double *values, const double *grad, double scale, double *s1, double *s2,
                             double b1, double b2, double m_correction, double v_correction, double eps,
                             Py_ssize_t f) {
        Py_ssize_t k = 0;
    #if defined(__SSE2__)
        for (; k + 2 <= f; k += 2) {
            __m128d g = _mm_mul_pd(_mm_loadu_pd(grad + k), _mm_set1_pd(scale));
            __m128d m = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(b1), _mm_loadu_pd(s1 + k)),
                                   _mm_mul_pd(_mm_set1_pd(1.0 - b1), g));
            __m128d v = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(b2), _mm_loadu_pd(s2 + k)),
                                   _mm_mul_pd(_mm_mul_pd(_mm_set1_pd(1.0 - b2), g), g));
            __m128d d = _mm_div_pd(_mm_mul_pd(m, _mm_set1_pd(m_correction)),
                                   _mm_add_pd(_mm_sqrt_pd(_mm_mul_pd(v, _mm_set1_pd(v_correction))),
                                              _mm_set1_pd(eps)));
            _mm_storeu_pd(s1 + k, m);
            _mm_storeu_pd(s2 + k, v);
            _mm_storeu_pd(values + k, _mm_add_pd(_mm_loadu_pd(values + k), _mm_mul_pd(_mm_set1_pd(lr), d)));
        }
    #endif
        for (; k < f; k++)
            values[k] += lr * sgd_adam_direction(grad[k] * scale, s1 + k, s2 + k, b1, b2, m_correction,
                                                 v_correction, eps);
    }
    """
    void sgd_prefetch(const void* address) noexcept nogil
    double sgd_adagrad_direction(double g, double* s1, double eps) noexcept nogil
    double sgd_adam_direction(double g, double* s1, double* s2, double b1, double b2, double m_correction,
                              double v_correction, double eps) noexcept nogil
    void sgd_adagrad_row(double lr, double* values, const double* grad, double scale, double* s1, double eps,
                         Py_ssize_t f) noexcept nogil
    void sgd_adam_row(double lr, double* values, const double* grad, double scale, double* s1, double* s2,
                      double b1, double b2, double m_correction, double v_correction, double eps,
                      Py_ssize_t f) noexcept nogil


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


cdef inline double* data_or_null(double[::1] array) noexcept:
    return &array[0] if array.shape[0] > 0 else NULL


cdef inline double* data_or_null_2d(double[:, ::1] array) noexcept:
    return &array[0, 0] if array.shape[0] > 0 else NULL


# ---------------------------------------------------------------- sampling

cdef struct Profiles:
    const int* indptr
    const int* indices
    const float* data
    const int* eligible_users
    Py_ssize_t n_eligible, n_items


cdef Profiles make_profiles(const int[::1] indptr, const int[::1] indices, const float[::1] data,
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
    """Users with at least one and fewer than ``n_items`` interactions, as int32."""
    lengths = np.diff(np.asarray(indptr))
    users = np.flatnonzero((lengths > 0) & (lengths < n_items)).astype(np.int32)
    if users.size == 0:
        raise ValueError("no user has both an interaction and a non-interacted item: nothing to sample")
    return users


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


# ---------------------------------------------------------------- matrix factorization

cdef struct Sample:
    Py_ssize_t user, item
    Py_ssize_t negative  # BPR
    double rating  # FunkSVD, AsySVD


cdef inline void prefetch_row(const double* row, Py_ssize_t f) noexcept nogil:
    """Prefetch the cache lines of ``row[:f]``."""
    cdef Py_ssize_t k
    for k in range(0, f, 8):
        sgd_prefetch(row + k)
    sgd_prefetch(row + f - 1)


cdef struct Accumulator:
    # summed gradients of the rows one mini-batch touches, in first-touch order
    int* slot  # per row: its position in ``rows``, or -1
    int* rows
    double* grad  # position x width
    Py_ssize_t count, width


cdef inline double* touch(Accumulator* acc, Py_ssize_t row) noexcept nogil:
    """Gradient accumulator of ``row`` for this batch (zeroed when first touched)."""
    cdef int s = acc.slot[row]
    if s < 0:
        s = <int>acc.count
        acc.count += 1
        acc.slot[row] = s
        acc.rows[s] = <int>row
        memset(acc.grad + s * acc.width, 0, acc.width * sizeof(double))
    return acc.grad + s * acc.width


cdef Accumulator make_accumulator(int[::1] slot, int[::1] rows, double[:, ::1] grad):
    cdef Accumulator acc
    acc.slot = &slot[0] if slot.shape[0] > 0 else NULL
    acc.rows = &rows[0]
    acc.grad = &grad[0, 0]
    acc.count = 0
    acc.width = grad.shape[1]
    return acc


@cython.final
cdef class MatrixFactorizationSGD:
    """SGD for one matrix factorization model, on arrays owned by the caller (updated in place).

    ``model`` is ``"FunkSVD"``, ``"AsySVD"`` or ``"BPR"``. ``P`` holds the user
    factors (FunkSVD, BPR) or the per-item factors ``y_l`` that sum to a user's
    vector (AsySVD); ``Q`` holds the item factors. The bias arrays are used when
    ``use_bias``; ``state`` maps each parameter name (``P``, ``Q``, ``user_bias``,
    ``item_bias``, ``global_bias``) to its ``(s1, s2)`` optimizer state (see
    ``optimizer_state_arrays``). Mini-batch gradients are summed per touched row,
    divided by ``batch_size`` and applied once per batch (global bias, then items,
    then users), as the reference does. With ``batch_size`` 1 a BPR or FunkSVD sample
    updates its rows at once, from gradients computed before the update (the same
    arithmetic as a batch of one, without the accumulators).
    """

    cdef int model, use_bias, n_factors
    cdef Py_ssize_t batch_size, n_users, n_interactions
    cdef double learning_rate, negative_quota, user_reg, item_reg, bias_reg, positive_reg, negative_reg
    cdef Profiles profiles
    cdef Rng rng
    cdef Optimizer opt
    cdef object _keep_alive
    cdef double* P
    cdef double* Q
    cdef double* user_bias
    cdef double* item_bias
    cdef double* global_bias
    cdef double* user_vector
    cdef double* P_s1
    cdef double* P_s2
    cdef double* Q_s1
    cdef double* Q_s2
    cdef double* ub_s1
    cdef double* ub_s2
    cdef double* ib_s1
    cdef double* ib_s2
    cdef double* gb_s1
    cdef double* gb_s2
    cdef Accumulator users_acc, items_acc  # grad width n_factors + 1: factors, then bias
    cdef double global_grad

    def __init__(self, str model, indptr, indices, data, double[:, ::1] P, double[:, ::1] Q,
                 double[::1] user_bias, double[::1] item_bias, double[::1] global_bias, dict state,
                 *, str sgd_mode, double learning_rate, Py_ssize_t batch_size, bint use_bias,
                 double negative_quota, double user_reg, double item_reg, double bias_reg,
                 double positive_reg, double negative_reg, seed_sequence):
        if model not in MODELS:
            raise ValueError(f"model must be one of {tuple(MODELS)}, got {model!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if not 0.0 <= negative_quota < 1.0:
            raise ValueError(f"negative_interactions_quota must lie in [0, 1), got {negative_quota}")
        self.model = MODELS[model]
        if self.model == ASY_SVD and batch_size != 1:
            raise ValueError(f"AsySVD supports batch_size=1 only, got {batch_size}")
        self.opt = make_optimizer(sgd_mode)
        self.n_users, self.n_interactions = len(indptr) - 1, indptr[-1]
        n_items = Q.shape[0]
        if P.shape[1] != Q.shape[1]:
            raise ValueError(f"P and Q must have the same number of columns, got {P.shape[1]} and {Q.shape[1]}")
        users = eligible_users(indptr, n_items)
        self.profiles = make_profiles(indptr, indices, data, users, n_items)
        self.rng = rng_from_seed_sequence(seed_sequence)
        self.P, self.Q = &P[0, 0], &Q[0, 0]
        self.n_factors = P.shape[1]
        self.use_bias = use_bias
        self.user_bias, self.item_bias = data_or_null(user_bias), data_or_null(item_bias)
        self.global_bias = data_or_null(global_bias)
        self.P_s1, self.P_s2 = data_or_null_2d(state["P"][0]), data_or_null_2d(state["P"][1])
        self.Q_s1, self.Q_s2 = data_or_null_2d(state["Q"][0]), data_or_null_2d(state["Q"][1])
        self.ub_s1, self.ub_s2 = data_or_null(state["user_bias"][0]), data_or_null(state["user_bias"][1])
        self.ib_s1, self.ib_s2 = data_or_null(state["item_bias"][0]), data_or_null(state["item_bias"][1])
        self.gb_s1, self.gb_s2 = data_or_null(state["global_bias"][0]), data_or_null(state["global_bias"][1])
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.negative_quota = negative_quota
        self.user_reg, self.item_reg, self.bias_reg = user_reg, item_reg, bias_reg
        self.positive_reg, self.negative_reg = positive_reg, negative_reg
        user_vector = np.zeros(self.n_factors, dtype=np.float64)
        self.user_vector = data_or_null(user_vector)
        self.global_grad = 0.0
        # a batch touches at most batch_size users and 2 * batch_size items (BPR)
        accumulators = (
            np.full(self.n_users, -1, dtype=np.int32), np.zeros(batch_size, dtype=np.int32),
            np.zeros((batch_size, self.n_factors + 1)),
            np.full(n_items, -1, dtype=np.int32), np.zeros(2 * batch_size, dtype=np.int32),
            np.zeros((2 * batch_size, self.n_factors + 1)),
        )
        self.users_acc = make_accumulator(accumulators[0], accumulators[1], accumulators[2])
        self.items_acc = make_accumulator(accumulators[3], accumulators[4], accumulators[5])
        self._keep_alive = (indptr, indices, data, users, P, Q, user_bias, item_bias, global_bias, state,
                            user_vector, accumulators)

    def run_epoch(self):
        """One epoch as in the reference; returns the mean sampled loss (squared error, or
        ``-log sigmoid(x_uij)`` for BPR).

        FunkSVD: ``nnz // batch_size + 1`` batches; AsySVD: ``nnz + 1`` samples;
        BPR: ``n_users // batch_size + 1`` batches. A FunkSVD/AsySVD sample is a
        non-interacted item with rating 0 with probability ``negative_quota``, else
        one of the user's interactions.
        """
        cdef Py_ssize_t n_batches, batch, s
        cdef double loss = 0.0
        cdef Sample current, ahead
        if self.model == MF_BPR:
            n_batches = self.n_users // self.batch_size + 1
        else:
            n_batches = self.n_interactions // self.batch_size + 1
        ahead.negative, ahead.rating = -1, 0.0  # the field the model does not draw keeps this
        with nogil:
            self._draw(&ahead)
            for batch in range(n_batches):
                for s in range(self.batch_size):
                    # draw the next sample now and prefetch its rows while this one trains
                    # (sampling reads no parameter, so the sequence of samples is unchanged)
                    current = ahead
                    if batch + 1 < n_batches or s + 1 < self.batch_size:
                        self._draw(&ahead)
                        self._prefetch(&ahead)
                    if self.model == MF_BPR:
                        loss += self._bpr_sample(current.user, current.item, current.negative)
                    elif self.model == FUNK_SVD:
                        loss += self._funk_sample(current.user, current.item, current.rating)
                    else:
                        loss += self._asy_sample(current.user, current.item, current.rating)
                self._end_batch()
        return loss / (n_batches * self.batch_size)

    cdef inline void _draw(self, Sample* sample) noexcept nogil:
        """A random sample: a user, then (BPR) one of their items and a negative, or (FunkSVD,
        AsySVD) a negative with rating 0 with probability ``negative_quota``, else one of their
        interactions with its rating."""
        cdef Py_ssize_t user = sample_user(&self.profiles, &self.rng), k
        cdef Py_ssize_t start = self.profiles.indptr[user], end = self.profiles.indptr[user + 1]
        sample.user = user
        if self.model == MF_BPR:
            sample.item = self.profiles.indices[start + rng_below(&self.rng, end - start)]
            sample.negative = sample_negative(&self.profiles, &self.rng, user)
        elif self.negative_quota > 0.0 and rng_unit(&self.rng) < self.negative_quota:
            sample.item = sample_negative(&self.profiles, &self.rng, user)
            sample.rating = 0.0
        else:
            k = start + rng_below(&self.rng, end - start)
            sample.item = self.profiles.indices[k]
            sample.rating = self.profiles.data[k]

    cdef inline void _prefetch(self, Sample* sample) noexcept nogil:
        """Ask the cache for the factor rows ``sample`` will read (AsySVD: the item's only)."""
        cdef Py_ssize_t f = self.n_factors
        prefetch_row(self.Q + sample.item * f, f)
        if self.model == MF_BPR:
            prefetch_row(self.Q + sample.negative * f, f)
        if self.model != ASY_SVD:
            prefetch_row(self.P + sample.user * f, f)

    def train_batch(self, users, items, targets):
        """Apply one mini-batch of given samples: ``targets`` are ratings (FunkSVD, AsySVD)
        or negative items (BPR). Lets tests check an update against a re-computation."""
        if not len(users) == len(items) == len(targets) == self.batch_size:
            raise ValueError(f"train_batch needs exactly batch_size={self.batch_size} samples")
        for user, item, target in zip(users, items, targets):
            if self.model == MF_BPR:
                self._bpr_sample(user, item, target)
            elif self.model == FUNK_SVD:
                self._funk_sample(user, item, target)
            else:
                self._asy_sample(user, item, target)
        self._end_batch()

    cdef inline double _bias_prediction(self, Py_ssize_t user, Py_ssize_t item) noexcept nogil:
        if self.use_bias:
            return self.global_bias[0] + self.user_bias[user] + self.item_bias[item]
        return 0.0

    cdef inline double _step(self, double g, double* s1, double* s2, Py_ssize_t k) noexcept nogil:
        """``lr * direction(g)`` of parameter ``k``."""
        return self.learning_rate * direction(&self.opt, g, s1, s2, k)

    cdef double _funk_sample(self, Py_ssize_t user, Py_ssize_t item, double rating) noexcept nogil:
        """The ascent gradients of ``-(r - b_g - b_u - b_i - p_u . q_i)^2 / 2`` minus the L2
        terms ``user_reg |p_u|^2 / 2``, ``item_reg |q_i|^2 / 2``, ``bias_reg b^2 / 2``:
        accumulated, or applied at once when ``batch_size`` is 1."""
        cdef Py_ssize_t k, f = self.n_factors
        cdef double* pu = self.P + user * f
        cdef double* qi = self.Q + item * f
        cdef double prediction = self._bias_prediction(user, item), error, p, q
        cdef double user_reg = self.user_reg, item_reg = self.item_reg, bias_reg = self.bias_reg
        cdef double lr = self.learning_rate
        cdef double* gu
        cdef double* gi
        for k in range(f):
            prediction += pu[k] * qi[k]
        error = rating - prediction
        if self.batch_size == 1:
            if self.use_bias:
                self.global_bias[0] += self._step(error - bias_reg * self.global_bias[0], self.gb_s1, self.gb_s2, 0)
                self.item_bias[item] += self._step(error - bias_reg * self.item_bias[item],
                                                   self.ib_s1, self.ib_s2, item)
                self.user_bias[user] += self._step(error - bias_reg * self.user_bias[user],
                                                   self.ub_s1, self.ub_s2, user)
            if self.opt.mode == MODE_SGD:
                for k in range(f):
                    p, q = pu[k], qi[k]
                    qi[k] = q + lr * (error * p - item_reg * q)
                    pu[k] = p + lr * (error * q - user_reg * p)
            else:
                gi, gu = self.items_acc.grad, self.users_acc.grad
                for k in range(f):
                    p, q = pu[k], qi[k]
                    gi[k] = error * p - item_reg * q
                    gu[k] = error * q - user_reg * p
                ascend_row(&self.opt, lr, qi, gi, 1.0, self.Q_s1, self.Q_s2, item * f, f)
                ascend_row(&self.opt, lr, pu, gu, 1.0, self.P_s1, self.P_s2, user * f, f)
            return error * error
        gu = touch(&self.users_acc, user)
        gi = touch(&self.items_acc, item)
        if self.use_bias:
            self.global_grad += error - bias_reg * self.global_bias[0]
            gu[f] += error - bias_reg * self.user_bias[user]
            gi[f] += error - bias_reg * self.item_bias[item]
        for k in range(f):
            gi[k] += error * pu[k] - item_reg * qi[k]
            gu[k] += error * qi[k] - user_reg * pu[k]
        return error * error

    cdef double _bpr_sample(self, Py_ssize_t user, Py_ssize_t pos, Py_ssize_t neg) noexcept nogil:
        """The ascent gradients of ``log sigmoid(p_u . (q_i - q_j))`` minus the L2 terms
        ``user_reg |p_u|^2 / 2``, ``positive_reg |q_i|^2 / 2``, ``negative_reg |q_j|^2 / 2``:
        accumulated, or applied at once when ``batch_size`` is 1."""
        cdef Py_ssize_t k, f = self.n_factors
        cdef double* pu = self.P + user * f
        cdef double* qi = self.Q + pos * f
        cdef double* qj = self.Q + neg * f
        cdef double user_reg = self.user_reg, positive_reg = self.positive_reg, negative_reg = self.negative_reg
        cdef double lr = self.learning_rate
        cdef double x = 0.0, e, sig, p, a, b
        cdef double* gu
        cdef double* gi
        cdef double* gj
        for k in range(f):
            x += pu[k] * (qi[k] - qj[k])
        e = exp(x)
        sig = 1.0 / (1.0 + e)
        if self.batch_size == 1:
            if self.opt.mode == MODE_SGD:
                for k in range(f):
                    p, a, b = pu[k], qi[k], qj[k]
                    qi[k] = a + lr * (sig * p - positive_reg * a)
                    qj[k] = b + lr * (-sig * p - negative_reg * b)
                    pu[k] = p + lr * (sig * (a - b) - user_reg * p)
            else:
                gi, gj, gu = self.items_acc.grad, self.items_acc.grad + f, self.users_acc.grad
                for k in range(f):
                    p, a, b = pu[k], qi[k], qj[k]
                    gi[k] = sig * p - positive_reg * a
                    gj[k] = -sig * p - negative_reg * b
                    gu[k] = sig * (a - b) - user_reg * p
                ascend_row(&self.opt, lr, qi, gi, 1.0, self.Q_s1, self.Q_s2, pos * f, f)
                ascend_row(&self.opt, lr, qj, gj, 1.0, self.Q_s1, self.Q_s2, neg * f, f)
                ascend_row(&self.opt, lr, pu, gu, 1.0, self.P_s1, self.P_s2, user * f, f)
            return bpr_loss(x, e)
        gu = touch(&self.users_acc, user)
        gi = touch(&self.items_acc, pos)
        gj = touch(&self.items_acc, neg)
        for k in range(f):
            p, a, b = pu[k], qi[k], qj[k]
            gi[k] += sig * p - positive_reg * a
            gj[k] += -sig * p - negative_reg * b
            gu[k] += sig * (a - b) - user_reg * p
        return bpr_loss(x, e)

    cdef double _asy_sample(self, Py_ssize_t user, Py_ssize_t item, double rating) noexcept nogil:
        """AsySVD step (batch size 1, applied at once): user vector
        ``z_u = sum_{l in I(u)} y_l / sqrt(|I(u)|)``, prediction ``b_g + b_u + b_i + z_u . q_i``,
        error ``e``; ascent gradients ``e - bias_reg b`` for each bias,
        ``e q_i / sqrt(|I(u)|) - user_reg y_l`` for every ``y_l`` of the profile and
        ``e z_u - item_reg q_i`` for ``q_i``, all from the values before the step."""
        cdef Py_ssize_t start = self.profiles.indptr[user], end = self.profiles.indptr[user + 1]
        cdef Py_ssize_t k, index, l, f = self.n_factors
        cdef double scale = 1.0 / sqrt(<double>(end - start)), prediction, error
        cdef double user_reg = self.user_reg, item_reg = self.item_reg, bias_reg = self.bias_reg
        cdef double lr = self.learning_rate
        cdef double* z = self.user_vector
        cdef double* qi = self.Q + item * f
        cdef double* yl
        for k in range(f):
            z[k] = 0.0
        for index in range(start, end):
            yl = self.P + self.profiles.indices[index] * f
            for k in range(f):
                z[k] += yl[k]
        prediction = self._bias_prediction(user, item)
        for k in range(f):
            z[k] *= scale
            prediction += z[k] * qi[k]
        error = rating - prediction
        if self.use_bias:
            self.global_bias[0] += self._step(error - bias_reg * self.global_bias[0], self.gb_s1, self.gb_s2, 0)
            self.item_bias[item] += self._step(error - bias_reg * self.item_bias[item], self.ib_s1, self.ib_s2, item)
            self.user_bias[user] += self._step(error - bias_reg * self.user_bias[user], self.ub_s1, self.ub_s2, user)
        for index in range(start, end):
            l = self.profiles.indices[index]
            yl = self.P + l * f
            if self.opt.mode == MODE_SGD:
                for k in range(f):
                    yl[k] += lr * (error * qi[k] * scale - user_reg * yl[k])
            else:
                for k in range(f):
                    yl[k] += self._step(error * qi[k] * scale - user_reg * yl[k], self.P_s1, self.P_s2, l * f + k)
        if self.opt.mode == MODE_SGD:
            for k in range(f):
                qi[k] += lr * (error * z[k] - item_reg * qi[k])
        else:
            for k in range(f):
                qi[k] += self._step(error * z[k] - item_reg * qi[k], self.Q_s1, self.Q_s2, item * f + k)
        return error * error

    cdef void _apply(self, Accumulator* acc, double* params, double* s1, double* s2,
                     double* bias, double* b_s1, double* b_s2) noexcept nogil:
        """``param += lr * direction(summed gradient / batch_size)`` for every touched row."""
        cdef Py_ssize_t s, row, f = self.n_factors
        cdef double scale = 1.0 / <double>self.batch_size
        cdef double* grad
        for s in range(acc.count):
            row = acc.rows[s]
            grad = acc.grad + s * acc.width
            if self.use_bias:
                bias[row] += self._step(grad[f] * scale, b_s1, b_s2, row)
            ascend_row(&self.opt, self.learning_rate, params + row * f, grad, scale, s1, s2, row * f, f)
            acc.slot[row] = -1
        acc.count = 0

    cdef void _end_batch(self) noexcept nogil:
        """Apply the accumulated mini-batch (batch size 1 and AsySVD: already applied) and advance Adam's step."""
        if self.batch_size > 1:
            if self.use_bias:
                self.global_bias[0] += self._step(self.global_grad * (1.0 / <double>self.batch_size),
                                                  self.gb_s1, self.gb_s2, 0)
                self.global_grad = 0.0
            self._apply(&self.items_acc, self.Q, self.Q_s1, self.Q_s2, self.item_bias, self.ib_s1, self.ib_s2)
            self._apply(&self.users_acc, self.P, self.P_s1, self.P_s2, self.user_bias, self.ub_s1, self.ub_s2)
        next_batch(&self.opt)


# ---------------------------------------------------------------- SLIM-BPR

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

    cdef double _sample(self, Py_ssize_t user, Py_ssize_t pos, Py_ssize_t neg) noexcept nogil:
        """One update; returns ``-log sigmoid(x_uij)``, or -1 when the sparse rows ran out of memory."""
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
                return -1
            if self._add(neg, l, -lr * (d_j + self.lambda_j * self._get(neg, l))) != 0:
                return -1
        next_batch(&self.opt)
        self.samples_done += 1
        if not self.use_dense and self.samples_done % self.prune_every == 0:
            if self._prune(1) != 0:
                return -1
        return bpr_loss(x, e)

    cdef int _prune(self, int n_threads) noexcept nogil:
        """Prune every hash row to its ``top_k`` largest entries; -1 when out of memory."""
        cdef Py_ssize_t row
        cdef int failed = 0
        for row in prange(self.n_items, num_threads=n_threads, schedule="dynamic", chunksize=64):
            if _prune_row(&self.rows[row], self.top_k) != 0:
                failed = 1
        return -1 if failed else 0

    def run_epoch(self):
        """``n_users`` samples; returns the mean ``-log sigmoid(x_uij)``."""
        cdef Py_ssize_t n, user, start, end
        cdef double loss = 0.0, sample_loss = 0.0
        with nogil:
            for n in range(self.n_users):
                user = sample_user(&self.profiles, &self.rng)
                start = self.profiles.indptr[user]
                end = self.profiles.indptr[user + 1]
                sample_loss = self._sample(user, self.profiles.indices[start + rng_below(&self.rng, end - start)],
                                           sample_negative(&self.profiles, &self.rng, user))
                if sample_loss < 0:
                    break
                loss += sample_loss
        if sample_loss < 0:
            raise MemoryError("SLIM_BPR: out of memory growing the sparse similarity rows")
        return loss / self.n_users

    def train_sample(self, Py_ssize_t user, Py_ssize_t pos, Py_ssize_t neg):
        """Apply one given sample (lets tests check an update against a re-computation)."""
        if self._sample(user, pos, neg) < 0:
            raise MemoryError("SLIM_BPR: out of memory growing the sparse similarity rows")

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
        if self._prune(n_threads) != 0:
            raise MemoryError("SLIM_BPR: out of memory pruning the sparse similarity rows")
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
