# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The SGD engine of FunkSVD, AsySVD and BPR-MF (shared pieces: ``_sgd_common.pxd``).

The engine is single-threaded: every step reads the parameters the previous step
wrote, which keeps a fit identical for a given seed whatever the number of cores.
"""

cimport cython
from libc.math cimport exp, sqrt
from libc.string cimport memset

from Recommenders._sgd_common cimport (
    MODE_SGD,
    Optimizer,
    Profiles,
    Rng,
    ascend_row,
    bpr_loss,
    data_or_null,
    data_or_null_2d,
    direction,
    make_optimizer,
    make_profiles,
    next_batch,
    rng_below,
    rng_from_seed_sequence,
    rng_unit,
    sample_negative,
    sample_user,
    sgd_prefetch,
)

import numpy as np

from Recommenders._sgd_common import eligible_users

cdef enum:
    FUNK_SVD = 0
    ASY_SVD = 1
    MF_BPR = 2

MODELS = {"FunkSVD": FUNK_SVD, "AsySVD": ASY_SVD, "BPR": MF_BPR}


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
