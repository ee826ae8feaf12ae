import numpy as np
import pytest
import scipy.sparse as sp
from Recommenders._topk import top_k_rows

from Recommenders.matrix_products import score_rows
from Recommenders.ranking import rank_top_k, rank_top_k_of_product
from Recommenders.registry import get_algorithm


def brute_force_top_k(scores, k, exclude=None):
    """Stable argsort of -score (NaN last) over each row's non-excluded items."""
    n_rows, n_items = scores.shape
    width = min(k, n_items)
    top = np.full((n_rows, width), -1, dtype=np.int32)
    for row in range(n_rows):
        keep = np.ones(n_items, dtype=bool)
        if exclude is not None:
            keep[exclude[row].indices] = False
        items = np.flatnonzero(keep)
        ranked = items[np.argsort(-scores[row, items], kind="stable")][:width]
        top[row, : ranked.size] = ranked
    return top


def random_case(rng, n_rows, n_items, with_nan=True, exclude_density=0.3):
    scores = rng.integers(0, 4, size=(n_rows, n_items)).astype(np.float32)  # many ties
    if with_nan:
        scores[rng.random((n_rows, n_items)) < 0.1] = np.nan
    exclude = sp.random(n_rows, n_items, density=exclude_density, format="csr", random_state=rng) if exclude_density else None
    return scores, exclude


@pytest.mark.parametrize("excluded", [False, True])
def test_matches_brute_force_on_random_ties(excluded):
    rng = np.random.default_rng(0)
    for _ in range(150):
        n_rows, n_items = int(rng.integers(0, 12)), int(rng.integers(1, 40))
        k = int(rng.integers(1, 50))  # often larger than n_items
        scores, exclude = random_case(rng, n_rows, n_items, exclude_density=0.4 if excluded else 0)
        np.testing.assert_array_equal(rank_top_k(scores, k, exclude), brute_force_top_k(scores, k, exclude))


def test_long_rows_use_the_selection_buffer():
    # More items than the per-thread buffer (256), increasing scores: every item is a candidate.
    rng = np.random.default_rng(1)
    increasing = np.broadcast_to(np.arange(3000, dtype=np.float32), (5, 3000)).copy()
    decreasing = increasing[:, ::-1].copy()
    ties, exclude = random_case(rng, 5, 3000)
    for scores in (increasing, decreasing, ties):
        for k in (1, 50, 100, 3000):
            np.testing.assert_array_equal(rank_top_k(scores, k, exclude), brute_force_top_k(scores, k, exclude))
            np.testing.assert_array_equal(rank_top_k(scores, k), brute_force_top_k(scores, k))


@pytest.mark.parametrize("k", [1, 10, 50, 100])
def test_long_rows_with_few_exclusions_use_a_score_floor(k):
    """Rows long enough for the chunk-maxima floor (8,000 items, 250 chunks): ties at the
    floor (scores 0..3), NaN, and rows whose excluded items are exactly their best ones."""
    rng = np.random.default_rng(5)
    ties, _ = random_case(rng, 6, 8000)
    distinct = rng.permutation(6 * 8000).reshape(6, 8000).astype(np.float32)
    best = np.argsort(-distinct, axis=1)[:, :40]
    exclude_best = sp.csr_matrix((np.ones(best.size), best.ravel(), np.arange(0, best.size + 1, 40)), shape=(6, 8000))
    few = sp.random(6, 8000, density=0.005, format="csr", random_state=rng)
    for scores, exclude in ((ties, few), (ties, None), (distinct, exclude_best), (distinct, few)):
        np.testing.assert_array_equal(rank_top_k(scores, k, exclude), brute_force_top_k(scores, k, exclude))


def test_ties_go_to_the_lower_item_and_nan_ranks_last():
    scores = np.array([[1.0, np.nan, 3.0, 3.0, 1.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(rank_top_k(scores, 6), [[2, 3, 0, 4, 1, 5]])
    np.testing.assert_array_equal(rank_top_k(scores, 3), [[2, 3, 0]])
    signed = np.array([[0.0, -0.0, -np.inf, np.inf, -1.0], [-0.0, 0.0, 1.0, -np.inf, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(rank_top_k(signed, 5), [[3, 0, 1, 4, 2], [2, 0, 1, 3, 4]])


def test_mostly_nan_rows():
    # Fewer numbers than k among many NaNs: the k-th best kept is NaN for most of the row.
    rng = np.random.default_rng(4)
    scores = np.full((3, 2000), np.nan, dtype=np.float32)
    scores[:, rng.choice(2000, 30, replace=False)] = rng.integers(0, 3, 30)
    exclude = sp.random(3, 2000, density=0.2, format="csr", random_state=rng)
    for k in (10, 50, 300):
        np.testing.assert_array_equal(rank_top_k(scores, k), brute_force_top_k(scores, k))
        np.testing.assert_array_equal(rank_top_k(scores, k, exclude), brute_force_top_k(scores, k, exclude))


def test_exclusion_padding_and_empty_rows():
    scores = np.array([[0.5, 0.1, 0.9], [0.2, 0.3, 0.4], [0.0, 0.0, 0.0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 1], [0, 0, 0]]))
    np.testing.assert_array_equal(rank_top_k(scores, 5, exclude), [[1, -1, -1], [-1, -1, -1], [0, 1, 2]])
    assert rank_top_k(np.zeros((0, 4), dtype=np.float32), 2).shape == (0, 2)


def test_stored_zeros_are_not_excluded():
    scores = np.arange(4, dtype=np.float32)[None, :]
    exclude = sp.csr_matrix((np.array([1.0, 0.0]), np.array([3, 2]), np.array([0, 2])), shape=(1, 4))
    np.testing.assert_array_equal(rank_top_k(scores, 4, exclude), [[2, 1, 0, -1]])


def test_unsorted_or_coo_exclusion_is_accepted():
    scores = np.arange(6, dtype=np.float32)[None, :]
    exclude = sp.csr_matrix((np.ones(3), np.array([5, 1, 3]), np.array([0, 3])), shape=(1, 6))
    assert not exclude.has_sorted_indices
    np.testing.assert_array_equal(rank_top_k(scores, 4, exclude), [[4, 2, 0, -1]])
    np.testing.assert_array_equal(rank_top_k(scores, 4, exclude.tocoo()), [[4, 2, 0, -1]])


def test_threads_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(2)
    scores, exclude = random_case(rng, 64, 500)
    monkeypatch.setenv("RECZILLA_THREADS", "1")
    one = rank_top_k(scores, 20, exclude)
    monkeypatch.setenv("RECZILLA_THREADS", "3")
    np.testing.assert_array_equal(rank_top_k(scores, 20, exclude), one)


def test_float64_and_non_contiguous_scores():
    rng = np.random.default_rng(3)
    scores = rng.random((8, 30))[:, ::2]
    np.testing.assert_array_equal(rank_top_k(scores, 5), brute_force_top_k(scores.astype(np.float32), 5))


def product_case(rng, n_rows, n_cols, n_items):
    """Sparse factors with real values (so that sums in another order would round differently),
    an empty row on the left (ties: all scores 0) and an empty row and column on the right."""
    left = sp.random(n_rows, n_cols, density=0.2, format="lil", random_state=rng, dtype=np.float32)
    left[0, :] = 0
    right = sp.random(n_cols, n_items, density=0.1, format="lil", random_state=rng, dtype=np.float32)
    right[1, :] = 0
    right[:, 2] = 0
    return sp.csr_matrix(left), sp.csr_matrix(right)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse right", "dense right"])
@pytest.mark.parametrize("k, excluded", [(10, True), (10, False), (500, True)])
def test_product_ranking_equals_ranking_the_scores(dense, k, excluded, monkeypatch):
    """The same scores to the bit (same accumulation order), so the same rankings, with ties,
    exclusions, rows without rankable items and k beyond the catalogue; at 1 and 3 threads."""
    rng = np.random.default_rng(7)
    left, right = product_case(rng, 60, 40, 300)
    right = right.toarray() if dense else right
    rows = rng.permutation(60)[:45]
    exclude = None
    if excluded:
        exclude = sp.random(45, 300, density=0.3, format="lil", random_state=rng)
        exclude[3, :] = 1  # no rankable item left
        exclude = sp.csr_matrix(exclude)
    expected = rank_top_k(score_rows(left, rows, right), k, exclude)
    assert (expected == -1).any() == excluded
    for threads in ("1", "3"):
        monkeypatch.setenv("RECZILLA_THREADS", threads)
        np.testing.assert_array_equal(rank_top_k_of_product(left, rows, right, k, exclude), expected)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse right", "dense right"])
def test_product_ranking_accumulates_in_the_order_of_score_rows(dense):
    """Item 0 sums 2^24 + 1 - 2^24: 0 in float32 in the left factor's order, 1 in reverse,
    so item 1 (score 0.5) ranks first only in that order."""
    left = sp.csr_matrix(np.ones((1, 3), dtype=np.float32))
    right = np.array([[2.0**24, 0.5], [1.0, 0.0], [-(2.0**24), 0.0]], dtype=np.float32)
    right = right if dense else sp.csr_matrix(right)
    assert score_rows(left, np.array([0]), right)[0, 0] == 0
    np.testing.assert_array_equal(rank_top_k_of_product(left, np.array([0]), right, 2), [[1, 0]])


@pytest.mark.parametrize("alg", ["ItemKNNCF_cosine", "UserKNNCF_cosine", "EASE_R_Recommender", "RP3betaRecommender"])
def test_similarity_models_recommend_what_their_scores_rank(alg):
    rng = np.random.default_rng(0)
    URM = sp.random(80, 120, density=0.08, format="csr", random_state=rng, dtype=np.float32)
    URM.data[:] = rng.integers(1, 6, URM.nnz)
    spec = get_algorithm(alg)
    model = spec.recommender_class().fit(URM, **spec.fit_args)
    users = rng.permutation(80)
    for exclude_seen in (True, False):
        exclude = URM[users] if exclude_seen else None
        np.testing.assert_array_equal(model.recommend(users, 30, exclude_seen=exclude_seen),
                                      rank_top_k(model.score(users), 30, exclude))


def test_bad_input_is_rejected():
    scores = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="k must be at least 1"):
        rank_top_k(scores, 0)
    with pytest.raises(ValueError, match="2-D"):
        rank_top_k(np.zeros(3), 1)
    with pytest.raises(ValueError, match="exclude has shape"):
        rank_top_k(scores, 1, sp.csr_matrix((3, 3)))
    with pytest.raises(TypeError, match="scipy sparse"):
        rank_top_k(scores, 1, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="excluded_indptr"):
        top_k_rows(scores, np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.int32), np.empty((2, 1), np.int32), 1)
    left = sp.csr_matrix(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="k must be at least 1"):
        rank_top_k_of_product(left, np.arange(2), np.ones((3, 4), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="exclude has shape"):
        rank_top_k_of_product(left, np.arange(2), np.ones((3, 4), dtype=np.float32), 1, sp.csr_matrix((2, 3)))
