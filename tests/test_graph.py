"""P3alpha / RP3beta against a naive dense numpy implementation of the reference's steps."""

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.graph import P3alphaRecommender, RP3betaRecommender
from Recommenders.hyperparameter_space import Categorical, Integer, Real
from Recommenders.registry import get_algorithm
from tests.test_similarity import brute_top_k, random_matrix


def naive_random_walk(D: np.ndarray, topK: int, alpha: float, beta: float | None, normalize_similarity: bool):
    stored = D != 0
    row_sums = np.abs(D).sum(axis=1, keepdims=True)
    P_ui = np.where(stored, D / np.where(row_sums == 0, 1, row_sums), 0.0)
    degree = stored.sum(axis=0)
    P_iu = np.where(stored.T, 1.0 / np.where(degree == 0, 1, degree)[:, None], 0.0)
    P_ui = np.where(stored, P_ui ** alpha, 0.0)  # powers of the stored entries only
    P_iu = np.where(stored.T, P_iu ** alpha, 0.0)
    W = P_iu @ P_ui
    if beta is not None:
        W = W * np.where(degree == 0, 0.0, np.power(np.maximum(degree, 1), -beta))[None, :]
    np.fill_diagonal(W, 0.0)
    W = brute_top_k(W.T, topK).T  # each row keeps its topK
    if normalize_similarity:
        sums = np.abs(W).sum(axis=1, keepdims=True)
        W = W / np.where(sums == 0, 1, sums)
    return brute_top_k(W, topK)  # then each column


@pytest.mark.parametrize("alpha", [1.0, 0.0, 0.6, 1.8])
@pytest.mark.parametrize("normalize_similarity", [True, False])
@pytest.mark.parametrize("model_class,beta", [(P3alphaRecommender, None), (RP3betaRecommender, 0.0),
                                              (RP3betaRecommender, 0.7), (RP3betaRecommender, 1.9)])
def test_scores_match_naive(model_class, beta, alpha, normalize_similarity):
    X = random_matrix("empty", seed=21)
    D = X.toarray().astype(np.float64)
    params = {"topK": 4, "alpha": alpha, "normalize_similarity": normalize_similarity}
    if beta is not None:
        params["beta"] = beta
    model = model_class().fit(X, **params)
    W = naive_random_walk(D, 4, alpha, beta, normalize_similarity)
    np.testing.assert_allclose(model.W_.toarray(), W, rtol=2e-5, atol=1e-7)
    users = np.array([5, 0, 19, 5])
    np.testing.assert_allclose(model.score(users), D[users] @ W, rtol=2e-5, atol=1e-7)


def test_large_top_k_keeps_every_path():
    X = random_matrix("ratings", seed=22)
    D = X.toarray().astype(np.float64)
    model = RP3betaRecommender().fit(X, topK=1000, alpha=1.0, beta=0.5, normalize_similarity=False)
    np.testing.assert_allclose(model.W_.toarray(), naive_random_walk(D, 1000, 1.0, 0.5, False), rtol=2e-5, atol=1e-7)


def test_registry_entries_follow_the_reference():
    p3 = get_algorithm("P3alphaRecommender")
    assert p3.space.dimensions == {"topK": Integer(5, 1000), "alpha": Real(0, 2),
                                   "normalize_similarity": Categorical((True, False))}
    assert p3.space.default == {"topK": 5, "alpha": 1.0, "normalize_similarity": True}
    rp3 = get_algorithm("RP3betaRecommender")
    assert rp3.space.dimensions == {"topK": Integer(5, 1000), "alpha": Real(0, 2), "beta": Real(0, 2),
                                    "normalize_similarity": Categorical((True, False))}
    assert rp3.space.default == {"topK": 5, "alpha": 1.0, "beta": 1.0, "normalize_similarity": True}
    assert p3.fit_args == rp3.fit_args == {} and p3.max_points is rp3.max_points is None


@pytest.mark.parametrize("model_class,beta", [(P3alphaRecommender, None), (RP3betaRecommender, 0.4)])
def test_many_candidates_per_row(model_class, beta):
    """300 items, most co-occurring: the kernel's selection buffer fills and is cut."""
    rng = np.random.default_rng(23)
    values = rng.uniform(0.1, 5.0, (60, 300)) * (rng.random((60, 300)) < 0.4)
    X = sp.csr_matrix(values.astype(np.float32))
    params = {"topK": 2, "alpha": 0.8, "normalize_similarity": True} | ({} if beta is None else {"beta": beta})
    model = model_class().fit(X, **params)
    W = naive_random_walk(values, 2, 0.8, beta, True)
    np.testing.assert_allclose(model.W_.toarray(), W, rtol=2e-5, atol=1e-7)
