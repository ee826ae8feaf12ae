"""ItemKNNCF / UserKNNCF against naive numpy scoring, and their registry entries."""

import numpy as np
import pytest

from Recommenders.hyperparameter_space import Categorical, Integer, Real
from Recommenders.knn import ItemKNNCF, UserKNNCF
from Recommenders.memory import MemoryEstimateExceeded
from Recommenders.registry import get_algorithm
from tests.test_similarity import brute_bm25, brute_similarity, brute_tf_idf, brute_top_k, random_matrix

MODEL_CASES = [
    ("cosine", {"shrink": 3, "normalize": True}),
    ("cosine", {"shrink": 0, "normalize": False}),
    ("asymmetric", {"shrink": 5, "normalize": True, "asymmetric_alpha": 1.4}),
    ("jaccard", {"shrink": 2, "normalize": True}),
    ("dice", {"shrink": 0, "normalize": False}),
    ("tversky", {"shrink": 1, "normalize": True, "tversky_alpha": 0.3, "tversky_beta": 1.2}),
    ("euclidean", {"shrink": 0, "normalize": True, "normalize_avg_row": True,
                   "similarity_from_distance_mode": "exp"}),
    ("euclidean", {"shrink": 4, "normalize": False, "normalize_avg_row": False, "similarity_from_distance_mode": "log"}),
]


@pytest.mark.parametrize("similarity,params", MODEL_CASES)
def test_item_knn_scores_match_naive(similarity, params):
    X = random_matrix("empty", seed=11)
    D = X.toarray().astype(np.float64)
    model = ItemKNNCF().fit(X, topK=5, similarity=similarity, **params)
    W = brute_top_k(brute_similarity(D, similarity, **params), 5)
    users = np.array([0, 3, 2, 29, 3])
    np.testing.assert_allclose(model.score(users), D[users] @ W, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("similarity,params", MODEL_CASES)
def test_user_knn_scores_match_naive(similarity, params):
    X = random_matrix("empty", seed=12)
    D = X.toarray().astype(np.float64)
    model = UserKNNCF().fit(X, topK=6, similarity=similarity, **params)
    W = brute_top_k(brute_similarity(D.T, similarity, **params), 6)  # users x users, column = target user
    users = np.array([1, 0, 17])
    # the reference scores with the rows of W (see the knn module docstring)
    np.testing.assert_allclose(model.score(users), W[users] @ D, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_class", [ItemKNNCF, UserKNNCF])
@pytest.mark.parametrize("weighting,brute", [("BM25", brute_bm25), ("TF-IDF", brute_tf_idf)])
def test_feature_weighting_replaces_the_urm_in_similarity_and_scores(model_class, weighting, brute):
    X = random_matrix("continuous", seed=13)
    weighted = brute(X.toarray().astype(np.float64))
    model = model_class().fit(X, topK=4, shrink=10, similarity="cosine", feature_weighting=weighting)
    users = np.arange(6)
    if model_class is ItemKNNCF:
        expected = weighted[users] @ brute_top_k(brute_similarity(weighted, "cosine", shrink=10), 4)
    else:
        expected = brute_top_k(brute_similarity(weighted.T, "cosine", shrink=10), 4)[users] @ weighted
    np.testing.assert_allclose(model.score(users), expected, rtol=1e-5, atol=1e-6)
    seen = model.recommend(users, cutoff=20)
    for row, user in enumerate(users):  # seen items (the unweighted training matrix) are excluded
        assert not set(seen[row]) & set(X[user].indices)


def test_unknown_options_are_refused():
    X = random_matrix("continuous")
    with pytest.raises(ValueError, match="unknown feature_weighting"):
        ItemKNNCF().fit(X, feature_weighting="bm25")
    with pytest.raises(ValueError, match="unknown similarity"):
        UserKNNCF().fit(X, similarity="pearson")


def test_memory_estimate_refuses_a_too_small_budget(monkeypatch):
    X = random_matrix("continuous")
    small = ItemKNNCF.estimate_memory_bytes(10_000, 50_000, 10**6, topK=5)
    large = ItemKNNCF.estimate_memory_bytes(10_000, 50_000, 10**6, topK=1000)
    assert large > small + 50_000 * 995 * 8  # the kept neighbours dominate
    assert UserKNNCF.estimate_memory_bytes(10_000, 50, 10**6, topK=1000) > 10_000 * 1000 * 8
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "1K")
    with pytest.raises(MemoryEstimateExceeded, match="ItemKNNCF"):
        ItemKNNCF().fit(X, topK=5)


BASE = {"topK": Integer(5, 1000), "shrink": Integer(0, 1000), "normalize": Categorical((True, False))}
BASE_DEFAULT = {"topK": 5, "shrink": 50, "normalize": True}
WITHOUT_NORMALIZE = {k: v for k, v in BASE.items() if k != "normalize"}
DEFAULT_WITHOUT_NORMALIZE = {k: v for k, v in BASE_DEFAULT.items() if k != "normalize"}
REFERENCE_SPACES = {
    "asymmetric": ({**WITHOUT_NORMALIZE, "asymmetric_alpha": Real(0, 2)},
                   {**DEFAULT_WITHOUT_NORMALIZE, "asymmetric_alpha": 1.0},
                   {"similarity": "asymmetric", "normalize": True}),
    "tversky": ({**WITHOUT_NORMALIZE, "tversky_alpha": Real(0, 2), "tversky_beta": Real(0, 2)},
                {**DEFAULT_WITHOUT_NORMALIZE, "tversky_alpha": 1.0, "tversky_beta": 1.0},
                {"similarity": "tversky", "normalize": True}),
    "euclidean": ({**BASE, "normalize_avg_row": Categorical((True, False)),
                   "similarity_from_distance_mode": Categorical(("lin", "log", "exp"))},
                  {**BASE_DEFAULT, "normalize_avg_row": True, "similarity_from_distance_mode": "lin"},
                  {"similarity": "euclidean"}),
    "cosine": ({**BASE, "feature_weighting": Categorical(("none", "BM25", "TF-IDF"))},
               {**BASE_DEFAULT, "feature_weighting": "none"}, {"similarity": "cosine"}),
    "jaccard": (BASE, BASE_DEFAULT, {"similarity": "jaccard"}),
    "dice": (BASE, BASE_DEFAULT, {"similarity": "dice"}),
}


@pytest.mark.parametrize("prefix,model_class", [("ItemKNNCF", ItemKNNCF), ("UserKNNCF", UserKNNCF)])
@pytest.mark.parametrize("similarity", list(REFERENCE_SPACES))
def test_registry_entries_follow_the_reference(prefix, model_class, similarity):
    spec = get_algorithm(f"{prefix}_{similarity}")
    dimensions, default, fit_args = REFERENCE_SPACES[similarity]
    assert spec.recommender_class is model_class
    assert spec.space.dimensions == dimensions
    assert spec.space.default == default
    assert spec.fit_args == fit_args
    assert spec.max_points is None
