import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.memory import MemoryEstimateExceeded
from Recommenders.non_personalized import GlobalEffects, Random, TopPop

URM = sp.csr_matrix(
    np.array(
        [
            [5, 0, 3, 0],
            [4, 0, 0, 1],
            [0, 2, 5, 0],
        ],
        dtype=np.float32,
    )
)


def test_top_pop_counts_users_per_item():
    model = TopPop().fit(URM)
    np.testing.assert_array_equal(model.score([0, 2]), [[2, 1, 2, 1], [2, 1, 2, 1]])


def test_top_pop_recommend_excludes_seen_and_pads():
    model = TopPop().fit(URM)
    # user 0 saw items 0 and 2; ties between 1 and 3 go to the lower id
    np.testing.assert_array_equal(model.recommend([0], cutoff=4), [[1, 3, -1, -1]])
    np.testing.assert_array_equal(model.recommend([0], cutoff=3, exclude_seen=False), [[0, 2, 1]])


def test_global_effects_by_hand():
    model = GlobalEffects().fit(URM, lambda_user=1.0, lambda_item=2.0)
    mu = 20 / 6
    item_bias = np.array([(5 - mu) + (4 - mu), (2 - mu), (3 - mu) + (5 - mu), (1 - mu)]) / (np.array([2, 1, 2, 1]) + 2)
    user_0 = ((5 - mu - item_bias[0]) + (3 - mu - item_bias[2])) / (2 + 1)
    np.testing.assert_allclose(model.item_bias_, item_bias, rtol=1e-6)
    np.testing.assert_allclose(model.score([0])[0], mu + user_0 + item_bias, rtol=1e-5)


def test_random_depends_only_on_seed_and_user():
    first = Random(seed=1).fit(URM)
    np.testing.assert_array_equal(first.score([2, 0]), first.score([0, 2])[::-1])
    np.testing.assert_array_equal(first.score([1]), Random(seed=1).fit(URM).score([1]))
    assert not np.array_equal(first.score([1]), Random(seed=2).fit(URM).score([1]))


def test_score_checks(monkeypatch):
    model = TopPop()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])
    model.fit(URM)
    with pytest.raises(IndexError):
        model.score([3])
    with pytest.raises(TypeError):
        TopPop().fit(URM.toarray())


def test_memory_estimate_checked_before_fitting(monkeypatch):
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "100")
    with pytest.raises(MemoryEstimateExceeded, match="RECZILLA_MEMORY_LIMIT"):
        TopPop().fit(URM)
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="RECZILLA_MEMORY_LIMIT"):
        TopPop().fit(URM)
