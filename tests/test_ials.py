"""IALSRecommender: conjugate gradient against exact least squares, quality, seeds, threads, spaces."""

import numpy as np
import pytest
import scipy.sparse as sp
from Recommenders._als import conjugate_gradient_rows
from Recommenders.kernel_indices import kernel_csr_arrays
from threadpoolctl import threadpool_limits

from Recommenders.ials import IALSRecommender, confidence
from Recommenders.registry import get_algorithm
from tests.recommender_checks import assert_two_samples_run, ndcg_at_10, planted_split, toppop_ndcg


def exact_rows(C: sp.csr_matrix, Y: np.ndarray, reg: float) -> np.ndarray:
    """Each row's exact minimiser: ``(Y^T C_u Y + reg I)^-1 Y^T C_u p_u`` (numpy solve)."""
    X = np.zeros((C.shape[0], Y.shape[1]))
    weights = np.ones((C.shape[0], Y.shape[0]))
    weights[C.nonzero()] = C.data
    for u in range(C.shape[0]):
        A = (Y.T * weights[u]) @ Y + reg * np.eye(Y.shape[1])
        X[u] = np.linalg.solve(A, Y.T @ (weights[u] * (C[u].toarray().ravel() > 0)))
    return X


def objective(URM, X, Y, alpha, reg):
    """``sum c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)`` over every (user, item) pair."""
    C = np.ones(URM.shape)
    C[URM.nonzero()] = confidence(URM, "linear", alpha, 1.0).data
    P = URM.toarray() > 0
    return float((C * (P - X @ Y.T) ** 2).sum() + reg * ((X**2).sum() + (Y**2).sum()))


def test_confidence_scalings():
    URM = sp.csr_matrix(np.array([[0, 2.0], [4.0, 0]], dtype=np.float32))
    np.testing.assert_allclose(confidence(URM, "linear", 0.5, 1.0).data, [2.0, 3.0])
    np.testing.assert_allclose(confidence(URM, "log", 3.0, 2.0).data, [1 + 3 * np.log(2.0), 1 + 3 * np.log(3.0)],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="confidence_scaling"):
        confidence(URM, "cubic", 1.0, 1.0)


def test_enough_conjugate_gradient_steps_reach_the_exact_solution():
    rng = np.random.default_rng(0)
    URM = sp.random(30, 20, density=0.2, format="csr", random_state=1, dtype=np.float32)
    C = confidence(URM, "linear", 2.0, 1.0)
    Y = rng.random((20, 6)).astype(np.float32)
    X = rng.random((30, 6)).astype(np.float32)
    YtY = (Y.T.astype(np.float64) @ Y + 0.1 * np.eye(6)).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        conjugate_gradient_rows(*kernel_csr_arrays(C), C.data, X, Y, YtY, 12, 2)
    np.testing.assert_allclose(X, exact_rows(C, Y.astype(np.float64), 0.1), rtol=2e-3, atol=2e-4)


def test_objective_decreases_towards_exact_als():
    train, _ = planted_split()
    fits = [IALSRecommender(seed=0).fit(train, epochs=epochs, num_factors=8, reg=0.01) for epochs in (1, 3, 10)]
    losses = [objective(train, f.user_factors_, f.item_factors_, 1.0, 0.01) for f in fits]
    assert losses[0] > losses[1] > losses[2]
    # exact ALS from the same start reaches about the same objective
    Y = np.random.default_rng(np.random.SeedSequence(0)).random((train.shape[1], 8)) * 8**-0.5
    C, C_items = confidence(train, "linear", 1.0, 1.0), confidence(train.T.tocsr(), "linear", 1.0, 1.0)
    for _ in range(10):
        X = exact_rows(C, Y, 0.01)
        Y = exact_rows(C_items, X, 0.01)
    assert losses[2] == pytest.approx(objective(train, X, Y, 1.0, 0.01), rel=0.01)


def test_beats_toppop():
    train, test = planted_split()
    model = IALSRecommender(seed=0).fit(train, epochs=10, num_factors=10)
    baseline = toppop_ndcg(train, test)
    assert ndcg_at_10(model, test) > max(3 * baseline, baseline + 0.04)


def test_seed_and_thread_count(monkeypatch):
    monkeypatch.setattr("Recommenders.threads.MIN_PARALLEL_WORK", 0)  # threads even for tiny data
    train, _ = planted_split()
    users = np.arange(train.shape[0])
    monkeypatch.setenv("RECZILLA_THREADS", "2")
    first = IALSRecommender(seed=5).fit(train, epochs=3).score(users)
    monkeypatch.setenv("RECZILLA_THREADS", "1")
    np.testing.assert_array_equal(first, IALSRecommender(seed=5).fit(train, epochs=3).score(users))
    assert not np.array_equal(first, IALSRecommender(seed=6).fit(train, epochs=3).score(users))


def test_cold_users_get_zero_factors():
    train, _ = planted_split()
    train = train.tolil()
    train[3, :] = 0
    model = IALSRecommender(seed=0).fit(train.tocsr(), epochs=2)
    assert not model.user_factors_[3].any()


def test_every_space_sample_fits():
    spec = get_algorithm("IALSRecommender")
    train, _ = planted_split()
    for _, hyperparameters in spec.sample_hyperparameters(5, param_seed=3):
        model = spec.recommender_class(seed=1).fit(train, **{**spec.fit_args, **hyperparameters, "epochs": 2})
        assert np.isfinite(model.score(np.arange(train.shape[0]))).all()


@pytest.mark.parametrize("name", ["IALSRecommender"])
def test_search_of_two_samples_runs_end_to_end(name, small_split, tmp_path):
    assert_two_samples_run(name, small_split, tmp_path)
