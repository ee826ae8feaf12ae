"""FunkSVD, AsySVD, BPR-MF and SLIM-BPR: one-step updates against numpy, quality, seeds, spaces."""

import numpy as np
import pytest
import scipy.sparse as sp
from Recommenders._mf_sgd import MatrixFactorizationSGD
from Recommenders._sgd_common import optimizer_state_arrays
from Recommenders._slim_bpr_sgd import SlimBPRSGD

from Recommenders.bpr_positives import bpr_positives
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.memory import MemoryEstimateExceeded
from Recommenders.registry import get_algorithm
from Recommenders.slim_bpr import SLIM_BPR_Cython, dense_top_k
from tests.recommender_checks import assert_two_samples_run, ndcg_at_10, planted_split, toppop_ndcg

MODES = ["sgd", "adagrad", "adam"]
LR = 0.05


class NumpyOptimizer:
    """Re-computation of the adaptive directions, one state array pair per parameter name."""

    def __init__(self, mode, shapes):
        self.mode, self.t = mode, 1
        self.s1 = {name: np.zeros(shape) for name, shape in shapes.items()}
        self.s2 = {name: np.zeros(shape) for name, shape in shapes.items()}

    def direction(self, name, index, g):
        s1, s2 = self.s1[name], self.s2[name]
        if self.mode == "adagrad":
            s1[index] += g * g
            return g / (np.sqrt(s1[index]) + 1e-8)
        if self.mode == "adam":
            s1[index] = 0.9 * s1[index] + 0.1 * g
            s2[index] = 0.999 * s2[index] + 0.001 * g * g
            return (s1[index] / (1 - 0.9**self.t)) / (np.sqrt(s2[index] / (1 - 0.999**self.t)) + 1e-8)
        return g


def tiny_profiles():
    """4 users x 5 items, sorted CSR with ratings."""
    dense = np.array([[5, 0, 3, 0, 0], [0, 4, 0, 1, 0], [2, 0, 0, 0, 4], [0, 3, 5, 0, 0]], dtype=np.float32)
    return sp.csr_matrix(dense)


def make_engine(model, mode, batch_size, use_bias, seed=0):
    URM = tiny_profiles()
    rng = np.random.default_rng(seed)
    p_rows = 5 if model == "AsySVD" else 4
    params = {
        "P": rng.normal(0, 0.5, (p_rows, 3)), "Q": rng.normal(0, 0.5, (5, 3)),
        "user_bias": rng.normal(0, 0.1, 4), "item_bias": rng.normal(0, 0.1, 5), "global_bias": np.array([0.3]),
    }
    state = {name: optimizer_state_arrays(mode, array.shape) for name, array in params.items()}
    engine = MatrixFactorizationSGD(
        model, *kernel_csr_arrays(URM), URM.data, params["P"], params["Q"], params["user_bias"],
        params["item_bias"], params["global_bias"], state, sgd_mode=mode, learning_rate=LR, batch_size=batch_size,
        use_bias=use_bias, negative_quota=0.0, user_reg=0.01, item_reg=0.02, bias_reg=0.03, positive_reg=0.04,
        negative_reg=0.05, seed_sequence=np.random.SeedSequence(seed),
    )
    return engine, params, {name: array.copy() for name, array in params.items()}, URM


def numpy_minibatch(expected, opt, samples, model, batch_size, use_bias):
    """One FunkSVD or BPR mini-batch: summed ascent gradients / batch_size, applied per touched row."""
    P, Q = expected["P"], expected["Q"]
    grads = {name: {} for name in expected}

    def add(name, index, value):
        grads[name][index] = grads[name].get(index, 0.0) + value

    for u, i, target in samples:
        if model == "FunkSVD":
            prediction = P[u] @ Q[i]
            if use_bias:
                prediction += expected["global_bias"][0] + expected["user_bias"][u] + expected["item_bias"][i]
            e = target - prediction
            if use_bias:
                add("global_bias", 0, e - 0.03 * expected["global_bias"][0])
                add("user_bias", u, e - 0.03 * expected["user_bias"][u])
                add("item_bias", i, e - 0.03 * expected["item_bias"][i])
            add("Q", i, e * P[u] - 0.02 * Q[i])
            add("P", u, e * Q[i] - 0.01 * P[u])
        else:
            j = target
            sig = 1.0 / (1.0 + np.exp(P[u] @ (Q[i] - Q[j])))
            add("Q", i, sig * P[u] - 0.04 * Q[i])
            add("Q", j, -sig * P[u] - 0.05 * Q[j])
            add("P", u, sig * (Q[i] - Q[j]) - 0.01 * P[u])
    for name in ("global_bias", "item_bias", "Q", "user_bias", "P"):
        for index, g in grads[name].items():
            expected[name][index] += LR * opt.direction(name, index, g / batch_size)
    opt.t += 1


def numpy_asy_step(expected, opt, URM, u, i, rating):
    Y, Q = expected["P"], expected["Q"]
    profile = URM.indices[URM.indptr[u] : URM.indptr[u + 1]]
    scale = 1 / np.sqrt(profile.size)
    z = Y[profile].sum(axis=0) * scale
    e = rating - (expected["global_bias"][0] + expected["user_bias"][u] + expected["item_bias"][i] + z @ Q[i])
    new_global = LR * opt.direction("global_bias", 0, e - 0.03 * expected["global_bias"][0])
    new_item = LR * opt.direction("item_bias", i, e - 0.03 * expected["item_bias"][i])
    new_user = LR * opt.direction("user_bias", u, e - 0.03 * expected["user_bias"][u])
    y_steps = [LR * opt.direction("P", l, e * Q[i] * scale - 0.01 * Y[l]) for l in profile]
    q_step = LR * opt.direction("Q", i, e * z - 0.02 * Q[i])
    expected["global_bias"][0] += new_global
    expected["item_bias"][i] += new_item
    expected["user_bias"][u] += new_user
    for l, step in zip(profile, y_steps):
        Y[l] += step
    Q[i] += q_step
    opt.t += 1


def assert_parameters_equal(params, expected):
    for name in params:
        np.testing.assert_allclose(params[name], expected[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_funk_svd_minibatches_match_numpy(mode, use_bias):
    engine, params, expected, _ = make_engine("FunkSVD", mode, batch_size=3, use_bias=use_bias)
    opt = NumpyOptimizer(mode, {name: array.shape for name, array in expected.items()})
    for batch in ([(0, 2, 3.0), (1, 3, 1.0), (0, 2, 4.0)], [(3, 1, 0.0), (2, 4, 4.0), (3, 2, 5.0)]):
        engine.train_batch(*zip(*batch))
        numpy_minibatch(expected, opt, batch, "FunkSVD", 3, use_bias)
        assert_parameters_equal(params, expected)


@pytest.mark.parametrize("mode", MODES)
def test_bpr_minibatches_match_numpy(mode):
    engine, params, expected, _ = make_engine("BPR", mode, batch_size=2, use_bias=False)
    opt = NumpyOptimizer(mode, {name: array.shape for name, array in expected.items()})
    for batch in ([(0, 0, 1), (1, 1, 0)], [(0, 2, 4), (3, 1, 4)]):
        engine.train_batch(*zip(*batch))
        numpy_minibatch(expected, opt, batch, "BPR", 2, False)
        assert_parameters_equal(params, expected)


@pytest.mark.parametrize("mode", MODES)
def test_asy_svd_steps_match_numpy(mode):
    engine, params, expected, URM = make_engine("AsySVD", mode, batch_size=1, use_bias=True)
    opt = NumpyOptimizer(mode, {name: array.shape for name, array in expected.items()})
    for u, i, rating in [(0, 2, 3.0), (3, 1, 0.0), (0, 0, 5.0)]:
        engine.train_batch([u], [i], [rating])
        numpy_asy_step(expected, opt, URM, u, i, rating)
        assert_parameters_equal(params, expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("storage", ["dense", "symmetric", "sparse"])
def test_slim_bpr_steps_match_numpy(mode, storage):
    URM = tiny_profiles()
    dense = None if storage == "sparse" else np.zeros((5, 5))
    engine = SlimBPRSGD(*kernel_csr_arrays(URM), URM.data, 5, dense, optimizer_state_arrays(mode, (5,)),
                        sgd_mode=mode, learning_rate=LR, lambda_i=0.1, lambda_j=0.2,
                        symmetric=storage == "symmetric", top_k=5, seed_sequence=np.random.SeedSequence(0))
    S = np.zeros((5, 5))
    opt = NumpyOptimizer(mode, {"S": (5,)})
    for u, i, j in [(0, 0, 1), (3, 2, 0), (0, 2, 4), (1, 3, 2)]:
        profile = URM.indices[URM.indptr[u] : URM.indptr[u + 1]]
        g = 1 / (1 + np.exp(S[i, profile].sum() - S[j, profile].sum()))
        d_i, d_j = opt.direction("S", i, g), opt.direction("S", j, g)
        step = S.copy()
        for l in profile:
            if l != i:
                step[i, l] += LR * (d_i - 0.1 * S[i, l])
            step[j, l] -= LR * (d_j + 0.2 * S[j, l])
        if storage == "symmetric":  # one cell stands for both (i, l) and (l, i)
            changed = step != S
            step.T[changed] = step[changed]
        S = step
        opt.t += 1
        engine.train_sample(u, i, j)
        stored = np.array([[engine.value(r, c) for c in range(5)] for r in range(5)])
        np.testing.assert_allclose(stored, S, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ fitted models

PLANTED_CONFIGS = {
    "MatrixFactorization_FunkSVD_Cython": {"epochs": 100, "batch_size": 16, "learning_rate": 0.05,
                                           "negative_interactions_quota": 0.3},
    "MatrixFactorization_AsySVD_Cython": {"epochs": 30, "learning_rate": 0.01},
    "MatrixFactorization_BPR_Cython": {"epochs": 100, "batch_size": 8, "learning_rate": 0.05, "sgd_mode": "adagrad"},
    "SLIM_BPR_Cython": {"epochs": 50, "learning_rate": 0.01, "topK": 50},
}


def fit_planted(name, seed=0, **overrides):
    spec = get_algorithm(name)
    train, test = planted_split()
    hyperparameters = {**spec.space.default, **spec.fit_args, **PLANTED_CONFIGS[name], **overrides}
    return spec.recommender_class(seed=seed).fit(train, **hyperparameters), train, test


@pytest.mark.parametrize("name", PLANTED_CONFIGS)
def test_beats_toppop_and_loss_decreases(name):
    recommender, train, test = fit_planted(name)
    baseline = toppop_ndcg(train, test)
    assert ndcg_at_10(recommender, test) > max(3 * baseline, baseline + 0.04)
    assert recommender.loss_history_[-1] < 0.8 * recommender.loss_history_[0]


@pytest.mark.parametrize("name", PLANTED_CONFIGS)
def test_same_seed_same_scores_other_seed_other_scores(name):
    users = np.arange(40)
    first = fit_planted(name, seed=3, epochs=3)[0].score(users)
    np.testing.assert_array_equal(first, fit_planted(name, seed=3, epochs=3)[0].score(users))
    assert not np.array_equal(first, fit_planted(name, seed=4, epochs=3)[0].score(users))


def test_slim_sparse_storage_equals_dense_without_pruning():
    """With topK >= n_items pruning keeps everything, so both storages follow the same arithmetic."""
    dense = fit_planted("SLIM_BPR_Cython", epochs=5, topK=1000, symmetric=False, train_with_sparse_weights=False)[0]
    sparse = fit_planted("SLIM_BPR_Cython", epochs=5, topK=1000, symmetric=False, train_with_sparse_weights=True)[0]
    assert sparse.sparse_weights_ and not dense.sparse_weights_
    assert (sparse.W_ != dense.W_).nnz == 0


def test_slim_uses_sparse_storage_when_dense_would_not_fit(monkeypatch):
    URM = sp.random(300, 6000, density=0.0025, format="csr", random_state=0, dtype=np.float32)
    URM.data[:] = 1.0
    sparse_estimate = SLIM_BPR_Cython.estimate_memory_bytes(*URM.shape, URM.nnz, topK=5, train_with_sparse_weights=True)
    dense_bytes = 6000 * 6000 * 8
    assert sparse_estimate < dense_bytes  # a budget can hold the sparse rows but not half of it be the dense matrix
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", str(sparse_estimate + 1))
    model = SLIM_BPR_Cython(seed=0).fit(URM, epochs=2, topK=5)
    assert model.sparse_weights_
    assert np.all(np.diff(model.W_.tocsc().indptr) <= 5)  # at most topK weights per scored item
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", str(4 * dense_bytes))
    assert not SLIM_BPR_Cython(seed=0).fit(URM, epochs=1, topK=5).sparse_weights_


def test_dense_top_k_keeps_largest_off_diagonal_nonzeros():
    S = np.array([[9.0, 1.0, -2.0, 0.0], [3.0, 0.0, 5.0, 4.0], [0.0, 0.0, 7.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    top = dense_top_k(S.copy(), 2).toarray()
    expected = np.array([[0, 1, -2, 0], [0, 0, 5, 4], [0, 0, 0, 0], [0, 2, 3, 0]], dtype=float)
    np.testing.assert_array_equal(top, expected)


def test_memory_estimates_grow_with_model_size():
    for name, small, large in [
        ("MatrixFactorization_FunkSVD_Cython", {"num_factors": 10}, {"num_factors": 200, "sgd_mode": "adam"}),
        ("MatrixFactorization_AsySVD_Cython", {"num_factors": 10}, {"num_factors": 200}),
        # (the optimizer state outgrows a block of scores, which it never coexists with, at 200 factors)
        ("MatrixFactorization_BPR_Cython", {"sgd_mode": "sgd", "num_factors": 200},
         {"sgd_mode": "adam", "num_factors": 200}),
    ]:
        cls = get_algorithm(name).recommender_class
        assert cls.estimate_memory_bytes(10_000, 5_000, 100_000, **large) > cls.estimate_memory_bytes(
            10_000, 5_000, 100_000, **small)
    # 200 float64 factors (+ 2 adam states) for 15,000 rows take at least 72 MB
    assert get_algorithm("MatrixFactorization_FunkSVD_Cython").recommender_class.estimate_memory_bytes(
        10_000, 5_000, 100_000, num_factors=200, sgd_mode="adam") > 72e6


def test_memory_budget_is_enforced(monkeypatch):
    train, _ = planted_split()
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "100K")
    with pytest.raises(MemoryEstimateExceeded):
        get_algorithm("MatrixFactorization_BPR_Cython").recommender_class().fit(train, epochs=1, num_factors=200)


@pytest.mark.parametrize("name, bad, message", [
    ("MatrixFactorization_FunkSVD_Cython", {"sgd_mode": "rmsprop"}, "sgd_mode"),
    ("MatrixFactorization_FunkSVD_Cython", {"negative_interactions_quota": 1.0}, "negative_interactions_quota"),
    ("MatrixFactorization_AsySVD_Cython", {"batch_size": 4}, "batch_size"),
    ("MatrixFactorization_BPR_Cython", {"positive_threshold_BPR": 10.0}, "positive_threshold_BPR"),
    ("SLIM_BPR_Cython", {"topK": 0}, "topK"),
])
def test_bad_hyperparameters_raise_clear_errors(name, bad, message):
    train, _ = planted_split()
    with pytest.raises(ValueError, match=message):
        get_algorithm(name).recommender_class().fit(train, epochs=1, **bad)


@pytest.mark.parametrize("name", PLANTED_CONFIGS)
def test_every_space_sample_fits(name):
    spec = get_algorithm(name)
    train, _ = planted_split()
    for _, hyperparameters in spec.sample_hyperparameters(5, param_seed=7):
        model = spec.recommender_class(seed=1).fit(train, **{**spec.fit_args, **hyperparameters, "epochs": 2})
        assert np.isfinite(model.score(np.arange(train.shape[0]))).all()


@pytest.mark.parametrize("name", PLANTED_CONFIGS)
def test_search_of_two_samples_runs_end_to_end(name, small_split, tmp_path):
    assert_two_samples_run(name, small_split, tmp_path)


def test_bpr_positives_keeps_interactions_at_the_threshold_as_ones():
    URM = sp.csr_matrix(np.array([[5, 0, 2], [3, 4, 0]], dtype=np.float32))
    assert bpr_positives(URM, None) is URM
    np.testing.assert_array_equal(bpr_positives(URM, 3.0).toarray(), [[1, 0, 0], [1, 1, 0]])
    with pytest.raises(ValueError, match="positive_threshold_BPR=6.0"):
        bpr_positives(URM, 6.0)
