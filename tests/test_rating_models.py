"""SlopeOne and CoClustering against brute-force re-implementations of scikit-surprise's definitions."""

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.co_clustering import CoClustering
from Recommenders.memory import MemoryEstimateExceeded
from Recommenders.registry import get_algorithm
from Recommenders.slope_one import SlopeOne
from tests.recommender_checks import assert_two_samples_run, ndcg_at_10, planted_split, toppop_ndcg


def tiny_ratings():
    """7 users x 6 items, float ratings; user 6 and item 5 have no ratings."""
    rng = np.random.default_rng(4)
    R = np.where(rng.random((7, 6)) < 0.6, rng.uniform(1, 5, (7, 6)), 0.0)
    R[6, :] = 0.0
    R[:, 5] = 0.0
    R[0, :2] = [4.5, 2.0]
    return R


def slope_one_brute_force(R):
    rated = R > 0
    global_mean = R[rated].mean()
    scores = np.zeros(R.shape)
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            if not rated[u].any():
                scores[u, i] = R[rated[:, i], i].mean() if rated[:, i].any() else global_mean
                continue
            relevant = [j for j in np.flatnonzero(rated[u]) if (rated[:, i] & rated[:, j]).any()]
            devs = [np.mean(R[rated[:, i] & rated[:, j], i] - R[rated[:, i] & rated[:, j], j]) for j in relevant]
            scores[u, i] = R[u, rated[u]].mean() + (np.mean(devs) if devs else 0.0)
    return scores


def test_slope_one_matches_brute_force():
    R = tiny_ratings()
    model = SlopeOne().fit(sp.csr_matrix(R))
    np.testing.assert_allclose(model.score(np.arange(7)), slope_one_brute_force(R), rtol=1e-5, atol=1e-5)


def test_slope_one_refuses_above_the_memory_budget(monkeypatch):
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "150M")
    assert SlopeOne.estimate_memory_bytes(1_000, 6_000, 50_000) > 5 * 6_000**2
    with pytest.raises(MemoryEstimateExceeded):
        SlopeOne().fit(sp.random(1_000, 6_000, density=0.001, format="csr", random_state=0))


def coclustering_brute_force(R, user_cluster, item_cluster, n_cu, n_ci, n_epochs):
    """scikit-surprise's CoClustering loop on a dense rating matrix (0 = unrated), from given clusters."""
    rated = R > 0
    mu = R[rated].mean()
    user_mean = np.array([R[u, rated[u]].mean() if rated[u].any() else mu for u in range(R.shape[0])])
    item_mean = np.array([R[rated[:, i], i].mean() if rated[:, i].any() else mu for i in range(R.shape[1])])
    uc, ic = user_cluster.copy(), item_cluster.copy()

    def averages():
        users, items = np.nonzero(rated)
        avg = []
        for keys, size in ((uc[users], n_cu), (ic[items], n_ci), (uc[users] * n_ci + ic[items], n_cu * n_ci)):
            counts = np.bincount(keys, minlength=size)
            sums = np.bincount(keys, weights=R[users, items], minlength=size)
            avg.append(np.where(counts > 0, sums / np.maximum(counts, 1), mu))
        return avg[0], avg[1], avg[2].reshape(n_cu, n_ci)

    def estimate(u, i, c_u, c_i, avg_u, avg_i, avg_co):
        return avg_co[c_u, c_i] + user_mean[u] - avg_u[c_u] + item_mean[i] - avg_i[c_i]

    for _ in range(n_epochs):
        avg_u, avg_i, avg_co = averages()
        for u in range(R.shape[0]):
            errors = [sum((R[u, i] - estimate(u, i, c, ic[i], avg_u, avg_i, avg_co)) ** 2
                          for i in np.flatnonzero(rated[u])) for c in range(n_cu)]
            uc[u] = int(np.argmin(errors))
        for i in range(R.shape[1]):
            errors = [sum((R[u, i] - estimate(u, i, uc[u], c, avg_u, avg_i, avg_co)) ** 2
                          for u in np.flatnonzero(rated[:, i])) for c in range(n_ci)]
            ic[i] = int(np.argmin(errors))
    avg_u, avg_i, avg_co = averages()
    scores = np.array([[estimate(u, i, uc[u], ic[i], avg_u, avg_i, avg_co) for i in range(R.shape[1])]
                       for u in range(R.shape[0])])
    cold_user, cold_item = ~rated.any(axis=1), ~rated.any(axis=0)
    scores[cold_user] = item_mean
    scores[:, cold_item] = user_mean[:, None]
    scores[np.ix_(cold_user, cold_item)] = mu
    return uc, ic, scores


@pytest.mark.parametrize("n_cu, n_ci, seed", [(3, 2, 0), (2, 3, 1), (5, 4, 2)])
def test_coclustering_matches_brute_force(n_cu, n_ci, seed):
    R = tiny_ratings()
    model = CoClustering(seed=seed).fit(sp.csr_matrix(R), n_cltr_u=n_cu, n_cltr_i=n_ci, n_epochs=4)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    start_u, start_i = rng.integers(n_cu, size=7), rng.integers(n_ci, size=6)
    uc, ic, scores = coclustering_brute_force(R, start_u, start_i, n_cu, n_ci, n_epochs=4)
    np.testing.assert_array_equal(model.user_cluster_, uc)
    np.testing.assert_array_equal(model.item_cluster_, ic)
    np.testing.assert_allclose(model.score(np.arange(7)), scores, rtol=1e-5)


@pytest.mark.parametrize("name, hyperparameters", [("SlopeOne", {}), ("CoClustering", {"n_cltr_u": 4, "n_cltr_i": 4})])
def test_beats_toppop(name, hyperparameters):
    train, test = planted_split()
    spec = get_algorithm(name)
    model = spec.recommender_class(seed=0).fit(train, **{**spec.fit_args, **hyperparameters})
    baseline = toppop_ndcg(train, test)
    assert ndcg_at_10(model, test) > max(3 * baseline, baseline + 0.04)


def test_coclustering_seed_and_threads(monkeypatch):
    monkeypatch.setattr("Recommenders.threads.MIN_PARALLEL_WORK", 0)  # threads even for tiny data
    train, _ = planted_split()
    users = np.arange(train.shape[0])
    monkeypatch.setenv("RECZILLA_THREADS", "2")
    first = CoClustering(seed=1).fit(train, n_cltr_u=30, n_cltr_i=7).score(users)
    monkeypatch.setenv("RECZILLA_THREADS", "1")
    np.testing.assert_array_equal(first, CoClustering(seed=1).fit(train, n_cltr_u=30, n_cltr_i=7).score(users))
    assert not np.array_equal(first, CoClustering(seed=2).fit(train, n_cltr_u=30, n_cltr_i=7).score(users))


def test_slope_one_threads(monkeypatch):
    monkeypatch.setattr("Recommenders.threads.MIN_PARALLEL_WORK", 0)  # threads even for tiny data
    train, _ = planted_split()
    monkeypatch.setenv("RECZILLA_THREADS", "2")
    first = SlopeOne().fit(train).score(np.arange(50))
    monkeypatch.setenv("RECZILLA_THREADS", "1")
    np.testing.assert_array_equal(first, SlopeOne().fit(train).score(np.arange(50)))


def test_every_coclustering_space_sample_fits():
    spec = get_algorithm("CoClustering")
    train, _ = planted_split()
    for _, hyperparameters in spec.sample_hyperparameters(5, param_seed=2):
        model = spec.recommender_class(seed=1).fit(train, **{**spec.fit_args, **hyperparameters})
        assert np.isfinite(model.score(np.arange(train.shape[0]))).all()


@pytest.mark.parametrize("name", ["SlopeOne", "CoClustering"])
def test_search_of_two_samples_runs_end_to_end(name, small_split, tmp_path):
    assert_two_samples_run(name, small_split, tmp_path)
