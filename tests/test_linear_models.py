"""EASE-R and SLIM ElasticNet against naive implementations on tiny data."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet

from Recommenders.ease_r import EASE_R_Recommender
from Recommenders.hyperparameter_space import Integer, Real
from Recommenders.memory import MemoryEstimateExceeded
from Recommenders.registry import get_algorithm
from Recommenders.slim_elastic_net import SLIMElasticNetRecommender
from tests.test_similarity import brute_top_k, random_matrix


def naive_ease(D: np.ndarray, l2_norm: float) -> np.ndarray:
    P = np.linalg.inv(D.T @ D + l2_norm * np.eye(D.shape[1]))
    B = P / -np.diag(P)
    np.fill_diagonal(B, 0.0)
    return B


@pytest.mark.parametrize("kind,l2_norm", [("continuous", 10.0), ("empty", 1e3), ("ratings", 50.0)])
def test_ease_scores_match_naive(kind, l2_norm):
    X = random_matrix(kind, seed=31)
    D = X.toarray().astype(np.float64)
    model = EASE_R_Recommender().fit(X, l2_norm=l2_norm)
    B = naive_ease(D, l2_norm)
    users = np.array([3, 0, 29])
    np.testing.assert_allclose(model.W_, B, atol=2e-5 * np.abs(B).max())
    np.testing.assert_allclose(model.score(users), D[users] @ B, atol=2e-5 * np.abs(D @ B).max())


def test_ease_on_ratings_beats_the_reference_diagonal():
    """The reference's count-on-the-diagonal Gram matrix is indefinite on ratings; ours is not."""
    X = random_matrix("ratings", seed=32)
    D = X.toarray().astype(np.float64)
    reference_gram = D.T @ D
    reference_gram[np.diag_indices_from(reference_gram)] = (D != 0).sum(axis=0) + 1.0
    assert np.linalg.eigvalsh(reference_gram).min() < 0
    model = EASE_R_Recommender().fit(X, l2_norm=1.0)
    B = naive_ease(D, 1.0)
    np.testing.assert_allclose(model.W_, B, atol=1e-4 * np.abs(B).max())


def test_ease_refuses_an_indefinite_gram_matrix():
    X = sp.csr_matrix(np.array([[1, 0], [1, 0]], dtype=np.float32))  # item 1 unseen: X^T X is singular
    with pytest.raises(np.linalg.LinAlgError, match="l2_norm"):
        EASE_R_Recommender().fit(X, l2_norm=0.0)


def test_ease_top_k_and_normalized_matrix():
    X = random_matrix("continuous", seed=33)
    D = X.toarray().astype(np.float64)
    model = EASE_R_Recommender().fit(X, l2_norm=5.0, topK=3)
    np.testing.assert_allclose(model.W_.toarray(), brute_top_k(naive_ease(D, 5.0), 3), rtol=1e-4, atol=1e-6)
    rows = D / np.linalg.norm(D, axis=1, keepdims=True).clip(1e-300)
    normalized = rows / np.linalg.norm(rows, axis=0, keepdims=True).clip(1e-300)
    model = EASE_R_Recommender().fit(X, l2_norm=5.0, normalize_matrix=True)
    users = np.arange(5)
    expected = normalized[users] @ naive_ease(normalized, 5.0)
    np.testing.assert_allclose(model.score(users), expected, atol=1e-4 * np.abs(expected).max())


def test_ease_refuses_a_catalogue_that_does_not_fit(monkeypatch):
    assert EASE_R_Recommender.estimate_memory_bytes(1000, 100_000, 10**6) > 4 * 100_000**2
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "20K")
    X = sp.random(10, 100, density=0.2, format="csr", random_state=0, dtype=np.float32)
    with pytest.raises(MemoryEstimateExceeded, match="EASE_R_Recommender needs an estimated"):
        EASE_R_Recommender().fit(X)


def naive_slim(D: np.ndarray, topK: int, l1_ratio: float, alpha: float) -> np.ndarray:
    W = np.zeros((D.shape[1], D.shape[1]))
    for item in range(D.shape[1]):
        X = D.copy()
        X[:, item] = 0.0
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False, max_iter=100_000,
                           tol=1e-12)
        W[:, item] = model.fit(X, D[:, item]).coef_
    return brute_top_k(W, topK)


@pytest.mark.parametrize("topK,l1_ratio,alpha", [(100, 0.1, 1e-3), (3, 0.5, 2e-3), (2, 1e-5, 1e-2)])
def test_slim_matches_naive_solutions(topK, l1_ratio, alpha):
    X = random_matrix("empty", seed=34)
    D = X.toarray().astype(np.float64)
    model = SLIMElasticNetRecommender().fit(X, topK=topK, l1_ratio=l1_ratio, alpha=alpha)
    W = naive_slim(D, topK, l1_ratio, alpha)
    assert model.W_.nnz > 0 and (model.W_.data > 0).all() and np.count_nonzero(model.W_.diagonal()) == 0
    np.testing.assert_allclose(model.W_.toarray(), W, atol=2e-3 * np.abs(W).max())
    users = np.array([1, 4, 8])
    np.testing.assert_allclose(model.score(users), D[users] @ model.W_.toarray(), rtol=1e-5, atol=1e-6)


def test_slim_keeps_every_coefficient_up_to_top_k_and_ignores_thread_count(monkeypatch):
    X = random_matrix("continuous", seed=35)
    fits = []
    for threads in ("1", "2"):
        monkeypatch.setenv("RECZILLA_THREADS", threads)
        fits.append(SLIMElasticNetRecommender(seed=3).fit(X, topK=1000, l1_ratio=0.2, alpha=1e-3).W_)
    assert (fits[0] != fits[1]).nnz == 0
    per_item = np.diff(fits[0].tocsc().indptr)
    assert per_item.max() > 1
    # the reference dropped the smallest coefficient of items with at most topK of them: not here
    W = naive_slim(X.toarray().astype(np.float64), 1000, 0.2, 1e-3)
    assert np.array_equal(np.diff(sp.csc_matrix(W).indptr), per_item)


def test_slim_refuses_bad_l1_ratio():
    with pytest.raises(ValueError, match="l1_ratio"):
        SLIMElasticNetRecommender().fit(random_matrix("continuous"), l1_ratio=1.5)


def test_registry_entries_follow_the_reference():
    ease = get_algorithm("EASE_R_Recommender")
    assert ease.space.dimensions == {"l2_norm": Real(1.0, 1e7, prior="log-uniform")}
    assert ease.space.default == {"l2_norm": 1e3}
    assert ease.fit_args == {"topK": None, "normalize_matrix": False} and ease.max_points == 1000
    slim = get_algorithm("SLIMElasticNetRecommender")
    assert slim.space.dimensions == {"topK": Integer(5, 1000), "l1_ratio": Real(1e-5, 1.0, prior="log-uniform"),
                                     "alpha": Real(1e-3, 1e2)}
    assert slim.space.default == {"topK": 5, "l1_ratio": 0.1, "alpha": 1.0}
    assert slim.fit_args == {} and slim.max_points is None
