"""The similarity engine against brute-force numpy formulas (Recommenders.similarity, feature_weighting)."""

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.feature_weighting import apply_feature_weighting, okapi_bm25, tf_idf
from Recommenders.matrix_products import gram_matrix, score_rows
from Recommenders.similarity import SIMILARITIES, column_top_k, compute_similarity


def random_matrix(kind: str, seed: int = 0) -> sp.csr_matrix:
    """Small test matrices: continuous values, integer ratings, fully dense, or with empty rows/columns."""
    rng = np.random.default_rng(seed)
    if kind == "dense":
        return sp.csr_matrix(rng.uniform(0.5, 3.0, (12, 9)).astype(np.float32))
    values = rng.uniform(0.1, 5.0, (30, 20))
    if kind == "ratings":
        values = np.ceil(values)
    values[rng.random(values.shape) > 0.3] = 0.0
    if kind == "empty":
        values[[2, 7, 11], :] = 0.0
        values[:, [0, 5, 13]] = 0.0
    return sp.csr_matrix(values.astype(np.float32))


def brute_similarity(D: np.ndarray, similarity: str, shrink: float = 0.0, normalize: bool = True,
                     asymmetric_alpha: float = 0.5, tversky_alpha: float = 1.0, tversky_beta: float = 1.0,
                     normalize_avg_row: bool = False, similarity_from_distance_mode: str = "lin") -> np.ndarray:
    """Dense ``M[c, t]``: similarity of column ``c`` to target column ``t``, zero diagonal, every column kept."""
    D = np.asarray(D, dtype=np.float64)
    if similarity in ("jaccard", "dice", "tversky"):
        D = (D != 0).astype(np.float64)
    S = D.T @ D
    q = (D ** 2).sum(axis=0)
    n = np.sqrt(q)
    target, candidate = q[None, :], q[:, None]
    if similarity == "cosine" and normalize:
        M = S / (np.outer(n, n) + shrink + 1e-6)
    elif similarity == "asymmetric" and normalize:
        target_part = (n[None, :] + 1e-6) ** (2 * asymmetric_alpha)
        M = S / (target_part * (n[:, None] + 1e-6) ** (2 * (1 - asymmetric_alpha)) + shrink + 1e-6)
    elif similarity in ("cosine", "asymmetric"):
        M = S / shrink if shrink else S.copy()
    elif similarity == "jaccard":
        M = S / (target + candidate - S + shrink + 1e-6)
    elif similarity == "dice":
        M = S / (target + candidate + shrink + 1e-6)
    elif similarity == "tversky":
        M = S / (S + tversky_alpha * (target - S) + tversky_beta * (candidate - S) + shrink + 1e-6)
    else:
        d2 = target + candidate - 2 * S
        if normalize:
            product = np.outer(n, n)
            d2 = np.where(product != 0, d2 / np.where(product != 0, product, 1), d2)
        if normalize_avg_row:
            d2 = d2 / D.shape[0]
        d = np.sqrt(np.maximum(d2, 0))
        f = {"lin": d, "log": np.log(d + 1), "exp": np.exp(d)}[similarity_from_distance_mode]
        M = 1 / (f + shrink + 1e-9)
    np.fill_diagonal(M, 0.0)
    return M


def brute_top_k(M: np.ndarray, k: int) -> np.ndarray:
    """Each column keeps its ``k`` largest nonzero values (ties: lower row first)."""
    kept = np.zeros_like(M)
    for column in range(M.shape[1]):
        rows = np.flatnonzero(M[:, column])
        rows = rows[np.lexsort((rows, -M[rows, column]))][:k]
        kept[rows, column] = M[rows, column]
    return kept


CASES = [
    ("cosine", {}), ("cosine", {"shrink": 7.0}), ("cosine", {"normalize": False}),
    ("cosine", {"normalize": False, "shrink": 4.0}),
    ("asymmetric", {"asymmetric_alpha": 0.3, "shrink": 2.0}), ("asymmetric", {"asymmetric_alpha": 1.7}),
    ("jaccard", {}), ("jaccard", {"shrink": 3.0}), ("dice", {"shrink": 1.0}),
    ("tversky", {"tversky_alpha": 0.4, "tversky_beta": 1.6}),
    ("tversky", {"tversky_alpha": 2.0, "tversky_beta": 0.0, "shrink": 5.0}),
    ("euclidean", {"normalize": False}), ("euclidean", {"normalize": True, "similarity_from_distance_mode": "log"}),
    ("euclidean", {"normalize_avg_row": True, "similarity_from_distance_mode": "exp", "shrink": 2.0}),
]


@pytest.mark.parametrize("kind", ["continuous", "ratings", "dense", "empty"])
@pytest.mark.parametrize("similarity,params", CASES)
def test_similarity_matches_brute_force(kind, similarity, params):
    X = random_matrix(kind)
    W = compute_similarity(X, similarity, topK=X.shape[1], **params)
    expected = brute_similarity(X.toarray(), similarity, **params)
    assert W.shape == expected.shape and W.dtype == np.float32
    np.testing.assert_allclose(W.toarray(), expected, rtol=1e-5, atol=1e-6)
    assert W.has_sorted_indices


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("kind", ["continuous", "ratings", "empty"])
def test_top_k_keeps_exactly_the_k_largest_per_column(similarity, kind):
    X = random_matrix(kind, seed=3)
    k = 4
    W = compute_similarity(X, similarity, topK=k, shrink=2.0).toarray()
    full = brute_similarity(X.toarray(), similarity, shrink=2.0)
    for column in range(W.shape[1]):
        kept = np.flatnonzero(W[:, column])
        candidates = np.flatnonzero(full[:, column])
        assert kept.size == min(k, candidates.size)
        np.testing.assert_allclose(W[kept, column], full[kept, column], rtol=1e-5)
        dropped = np.setdiff1d(candidates, kept)
        if dropped.size:  # nothing left out beats what was kept (ties may go either way)
            assert full[dropped, column].max() <= full[kept, column].min() * (1 + 1e-6)
    if kind == "continuous":  # no ties: the exact brute-force choice
        np.testing.assert_allclose(W, brute_top_k(full, k), rtol=1e-5)


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("integer", [False, True])
def test_top_k_with_many_more_candidates_than_its_buffer(similarity, k, integer):
    """300 columns, most co-occurring: the selection buffer (4k + 64) fills and is cut repeatedly."""
    rng = np.random.default_rng(8)
    values = rng.uniform(0.1, 5.0, (60, 300))
    if integer:
        values = np.ceil(values)
    values[rng.random(values.shape) > 0.4] = 0.0
    X = sp.csr_matrix(values.astype(np.float32))
    W = compute_similarity(X, similarity, topK=k, shrink=1.0, tversky_alpha=0.5, tversky_beta=1.5).toarray()
    full = brute_similarity(X.toarray(), similarity, shrink=1.0, tversky_alpha=0.5, tversky_beta=1.5)
    for column in range(W.shape[1]):
        kept = np.flatnonzero(W[:, column])
        candidates = np.flatnonzero(full[:, column])
        assert kept.size == min(k, candidates.size)
        np.testing.assert_allclose(W[kept, column], full[kept, column], rtol=1e-5)
        dropped = np.setdiff1d(candidates, kept)
        assert full[dropped, column].max() <= full[kept, column].min() * (1 + 1e-6)
    if not integer:
        np.testing.assert_allclose(W, brute_top_k(full, k), rtol=1e-5)


def test_ties_go_to_the_lower_index():
    # columns 1..4 are identical, so their similarities to column 0 tie
    D = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [0, 1, 1, 1, 1]], dtype=np.float32)
    W = compute_similarity(sp.csr_matrix(D), "cosine", topK=2).toarray()
    assert np.flatnonzero(W[:, 0]).tolist() == [1, 2]
    assert np.flatnonzero(W[:, 4]).tolist() == [1, 2]


def test_shrink_by_hand():
    # two columns sharing one row: s = 1, norms sqrt(2)
    X = sp.csr_matrix(np.array([[1, 1], [1, 0], [0, 1]], dtype=np.float32))
    assert compute_similarity(X, "cosine", shrink=3)[0, 1] == pytest.approx(1 / (2 + 3 + 1e-6), rel=1e-6)
    assert compute_similarity(X, "cosine", shrink=4, normalize=False)[0, 1] == pytest.approx(0.25, rel=1e-6)
    assert compute_similarity(X, "jaccard", shrink=1)[0, 1] == pytest.approx(1 / (2 + 2 - 1 + 1 + 1e-6), rel=1e-6)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    X = random_matrix("ratings", seed=5)
    results = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("RECZILLA_THREADS", threads)
        results.append(compute_similarity(X, "cosine", topK=3, shrink=1).toarray())
    assert all(np.array_equal(results[0], other) for other in results[1:])


def test_user_similarity_is_over_rows():
    X = random_matrix("continuous", seed=2)
    W = compute_similarity(X.T, "cosine", topK=X.shape[0])
    np.testing.assert_allclose(W.toarray(), brute_similarity(X.toarray().T, "cosine"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad,message", [
    ({"similarity": "pearson"}, "unknown similarity"),
    ({"topK": 0}, "topK must be at least 1"),
    ({"shrink": -1}, "shrink must be non-negative"),
    ({"similarity": "euclidean", "similarity_from_distance_mode": "sq"}, "similarity_from_distance_mode"),
])
def test_bad_arguments_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        compute_similarity(random_matrix("continuous"), **bad)


def test_non_finite_data_is_refused():
    X = random_matrix("continuous")
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        compute_similarity(X)


@pytest.mark.parametrize("dense", [False, True])
def test_column_top_k(dense):
    rng = np.random.default_rng(4)
    M = rng.normal(size=(15, 15)) * (rng.random((15, 15)) < 0.5)
    W = column_top_k(M if dense else sp.csr_matrix(M), 3)
    np.testing.assert_allclose(W.toarray(), brute_top_k(M, 3), rtol=1e-6)


def test_gram_and_row_products():
    X = random_matrix("empty", seed=6)
    D = X.toarray().astype(np.float64)
    np.testing.assert_allclose(gram_matrix(X), D.T @ D, rtol=1e-5)
    rows = np.array([4, 0, 2, 4])
    W = sp.csr_matrix(np.random.default_rng(1).random((20, 20)) * (np.random.default_rng(2).random((20, 20)) < 0.3))
    np.testing.assert_allclose(score_rows(X, rows, W), D[rows] @ W.toarray(), rtol=1e-5, atol=1e-6)
    dense = W.toarray().astype(np.float32)
    np.testing.assert_allclose(score_rows(X, rows, dense), D[rows] @ dense, rtol=1e-5, atol=1e-6)


def brute_bm25(D: np.ndarray, K1=1.2, B=0.75) -> np.ndarray:
    out = np.zeros_like(D)
    n_items = D.shape[1]
    item_length = D.sum(axis=0)
    average = item_length.mean()
    for u, i in zip(*np.nonzero(D)):
        idf = np.log(n_items / (1 + np.count_nonzero(D[u])))
        out[u, i] = D[u, i] * (K1 + 1) / (K1 * ((1 - B) + B * item_length[i] / average) + D[u, i]) * idf
    return out


def brute_tf_idf(D: np.ndarray) -> np.ndarray:
    out = np.zeros_like(D)
    for u, i in zip(*np.nonzero(D)):
        out[u, i] = np.sqrt(D[u, i]) * np.log(D.shape[1] / (1 + np.count_nonzero(D[u])))
    return out


@pytest.mark.parametrize("kind", ["continuous", "ratings", "dense", "empty"])
def test_feature_weighting_matches_brute_force(kind):
    X = random_matrix(kind, seed=7)
    D = X.toarray().astype(np.float64)
    np.testing.assert_allclose(okapi_bm25(X).toarray(), brute_bm25(D), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf_idf(X).toarray(), brute_tf_idf(D), rtol=1e-5, atol=1e-6)
    assert apply_feature_weighting(X, "none") is X
    if kind == "dense":  # every user rated every item: idf = log(N / (N + 1)) < 0, kept as the reference
        assert (okapi_bm25(X).data < 0).all()


def test_feature_weighting_refusals():
    X = random_matrix("continuous")
    with pytest.raises(ValueError, match="unknown feature_weighting"):
        apply_feature_weighting(X, "bm25")
    X.data[0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        tf_idf(X)
    with pytest.raises(ValueError, match="0 < B < 1"):
        okapi_bm25(X, B=1.0)


def test_column_counts_match_bincount_across_chunks(monkeypatch):
    from Recommenders import matrix_products

    monkeypatch.setattr(matrix_products, "COUNT_CHUNK", 7)  # several chunks, the last one partial
    X = sp.random(40, 13, density=0.3, format="csr", dtype=np.float32, random_state=3)
    X.data[::4] = 0.0  # explicit zeros
    assert X.nnz % 7 != 0
    np.testing.assert_array_equal(matrix_products.column_counts(X), np.bincount(X.indices, minlength=13))
    np.testing.assert_array_equal(matrix_products.column_counts(X, nonzero_only=True),
                                  np.bincount(X.indices[X.data != 0], minlength=13))
