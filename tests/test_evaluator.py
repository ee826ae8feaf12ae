import math

import numpy as np
import pytest
import scipy.sparse as sp

from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator
from Experiment_handler.metrics import METRICS
from Recommenders.base import BaseRecommender
from Recommenders.non_personalized import TopPop


class FixedScores(BaseRecommender):
    """Scores given at fit time; records the largest block it was asked to score."""

    def _fit(self, URM_train, scores):
        self.scores_ = np.asarray(scores, dtype=np.float32)
        self.largest_block_ = 0

    def _score(self, user_ids):
        self.largest_block_ = max(self.largest_block_, user_ids.size)
        return self.scores_[user_ids]


def brute_force(URM_train, URM_test, scores, cutoffs, exclude_seen, ndcg_gain="exponential"):
    """The reference's definitions, one user and one cutoff at a time in plain Python."""
    gain = (lambda r: 2**r - 1) if ndcg_gain == "exponential" else (lambda r: 1.0)  # noqa: E731
    n_users, n_items = URM_test.shape
    train = URM_train.toarray()
    popularity = (train != 0).sum(axis=0)
    total_interactions = popularity.sum()
    per_user = {c: {name: 0.0 for name in METRICS} for c in cutoffs}
    counts = {c: np.zeros(n_items) for c in cutoffs}
    hit_items = {c: set() for c in cutoffs}
    with_list, with_hit = 0, {c: 0 for c in cutoffs}
    users = [u for u in range(n_users) if URM_test[u].nnz > 0]
    for u in users:
        test = {int(i): float(v) for i, v in zip(URM_test[u].indices, URM_test[u].data)}
        candidates = [i for i in range(n_items) if not (exclude_seen and train[u, i] != 0)]
        ranking = sorted(candidates, key=lambda i: (-scores[u, i], i))
        with_list += bool(ranking)
        for c in cutoffs:
            top = ranking[:c]
            hits = [i in test for i in top]
            n, h = len(top), sum(hits)
            values = per_user[c]
            values["PRECISION"] += h / n if n else 0.0
            values["PRECISION_RECALL_MIN_DEN"] += h / min(len(test), n) if n else 0.0
            values["RECALL"] += h / len(test)
            precision_sum, found = 0.0, 0
            for rank, is_hit in enumerate(hits, 1):
                if is_hit:
                    found += 1
                    precision_sum += found / rank
            values["MAP"] += precision_sum / n if n else 0.0
            values["MAP_MIN_DEN"] += precision_sum / min(len(test), n) if n else 0.0
            values["MRR"] += next((1 / rank for rank, is_hit in enumerate(hits, 1) if is_hit), 0.0)
            dcg = sum(gain(test[i]) / math.log2(rank + 1) for rank, i in enumerate(top, 1) if i in test)
            ideal = sorted(test.values(), reverse=True)[:c]
            idcg = sum(gain(r) / math.log2(rank + 1) for rank, r in enumerate(ideal, 1))
            values["NDCG"] += dcg / idcg if dcg != 0 and idcg != 0 else 0.0
            values["HIT_RATE"] += h > 0
            values["ARHR_ALL_HITS"] += sum(1 / rank for rank, is_hit in enumerate(hits, 1) if is_hit)
            values["NOVELTY"] += sum(
                -math.log2(popularity[i] / total_interactions) / n_items for i in top if popularity[i] > 0
            )
            values["AVERAGE_POPULARITY"] += sum(popularity[i] / popularity.max() for i in top) / n if n else 0.0
            for i in top:
                counts[c][i] += 1
            hit_items[c].update(i for i in top if i in test)
            with_hit[c] += h > 0
    results = {}
    n_evaluated = len(users)
    for c in cutoffs:
        values = {name: total / n_evaluated for name, total in per_user[c].items()}
        p, r = values["PRECISION"], values["RECALL"]
        values["F1"] = 2 * p * r / (p + r) if p + r else 0.0
        count = counts[c]
        pairs = n_evaluated * (n_evaluated - 1)
        common = (count**2).sum() - n_evaluated * c
        values["DIVERSITY_MEAN_INTER_LIST"] = (pairs - common / c) / pairs
        share = count / count.sum()
        values["DIVERSITY_HERFINDAHL"] = 1 - (share**2).sum()
        values["COVERAGE_ITEM"] = (count > 0).mean()
        values["COVERAGE_ITEM_HIT"] = len(hit_items[c]) / n_items
        values["ITEMS_IN_GT"] = len(set(URM_test.indices)) / n_items
        values["COVERAGE_USER"] = with_list / n_users
        values["COVERAGE_USER_HIT"] = with_hit[c] / n_users
        values["USERS_IN_GT"] = n_evaluated / n_users
        ordered = sorted(count)
        values["DIVERSITY_GINI"] = 2 * sum(
            (n_items + 1 - k) / (n_items + 1) * m / count.sum() for k, m in enumerate(ordered, 1)
        )
        values["SHANNON_ENTROPY"] = -sum(q * math.log2(q) for q in share if q > 0)
        results[c] = values
    return results


def random_split(seed, n_users, n_items):
    rng = np.random.default_rng(seed)
    values = lambda size: rng.integers(1, 6, size)  # noqa: E731 - ratings 1..5
    train = sp.random(n_users, n_items, density=0.3, format="csr", random_state=rng, data_rvs=values)
    test = sp.random(n_users, n_items, density=0.08, format="csr", random_state=rng, data_rvs=values)
    scores = rng.integers(0, 5, size=(n_users, n_items))  # many ties
    return train.astype(np.float32), test.astype(np.float32), scores


@pytest.mark.parametrize("exclude_seen", [True, False])
@pytest.mark.parametrize("seed, n_items", [(0, 60), (1, 7)], ids=["60 items", "7 items"])
def test_matches_brute_force_on_random_data(seed, n_items, exclude_seen):
    train, test, scores = random_split(seed, 45, n_items)
    model = FixedScores().fit(train, scores=scores)
    evaluator = Evaluator(test, exclude_seen=exclude_seen, block_users=8)
    results = evaluator.evaluate(model)
    expected = brute_force(train, test, scores, DEFAULT_CUTOFFS, exclude_seen)
    assert model.largest_block_ == 8
    assert evaluator.n_users_evaluated_ == np.count_nonzero(np.diff(test.indptr))
    assert list(results) == DEFAULT_CUTOFFS
    for cutoff in DEFAULT_CUTOFFS:
        assert list(results[cutoff]) == list(METRICS)
        for metric in METRICS:
            assert isinstance(results[cutoff][metric], float)
            assert results[cutoff][metric] == pytest.approx(expected[cutoff][metric], rel=1e-9, abs=1e-12), (
                cutoff,
                metric,
            )


@pytest.mark.parametrize("ndcg_gain", ["exponential", "binary"])
@pytest.mark.parametrize("cutoffs", [[1], [2, 5, 40, 100], DEFAULT_CUTOFFS])
def test_matches_brute_force_with_sparse_cutoffs_short_lists_and_both_gains(cutoffs, ndcg_gain):
    """Cutoffs beyond the catalogue (60 items), users whose every item was seen (empty
    lists) or whose lists end early, blocks of several sizes."""
    train, test, scores = random_split(2, 70, 60)
    train = train.tolil()
    train[:3, :] = 1  # no rankable item left
    train[3:6, 5:] = 1  # five rankable items
    train = train.tocsr()
    model = FixedScores().fit(train, scores=scores)
    expected = brute_force(train, test, scores, cutoffs, True, ndcg_gain)
    for block_users in (1, 13, 1000):
        results = Evaluator(test, cutoffs=cutoffs, block_users=block_users, ndcg_gain=ndcg_gain).evaluate(model)
        for cutoff in cutoffs:
            for metric in METRICS:
                assert results[cutoff][metric] == pytest.approx(expected[cutoff][metric], rel=1e-9, abs=1e-12), (
                    cutoff, metric, block_users)


def test_top_pop_by_hand_with_and_without_seen_items():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    model = TopPop().fit(train)  # popularity [3, 1, 1, 0]: ties between items 1 and 2 go to item 1
    seen_excluded = Evaluator(test, cutoffs=[1, 2, 5]).evaluate(model)
    # user 0 gets [2, 3]: a hit at rank 1; user 1 gets [1, 3]: no hit (its test item 0 was seen).
    assert seen_excluded[1]["PRECISION"] == pytest.approx(1 / 2)
    assert seen_excluded[5]["PRECISION"] == pytest.approx(1 / 4)  # lists of 2 items
    assert seen_excluded[5]["RECALL"] == pytest.approx(1 / 2)
    assert seen_excluded[5]["COVERAGE_USER"] == pytest.approx(2 / 3)
    seen_ranked = Evaluator(test, cutoffs=[1, 2, 5], exclude_seen=False).evaluate(model)
    # both users get [0, 1, 2, 3]: user 0's hit at rank 3, user 1's at rank 1.
    assert seen_ranked[1]["PRECISION"] == pytest.approx(1 / 2)
    assert seen_ranked[2]["MRR"] == pytest.approx(1 / 2)
    assert seen_ranked[5]["MRR"] == pytest.approx((1 / 3 + 1) / 2)
    assert seen_ranked[5]["PRECISION"] == pytest.approx(1 / 4)  # 4 items, cutoff 5
    # counts [2, 2, 2, 2], U = 2, c = 5: (U(U-1) - (sum n^2 - U c) / c) / (U(U-1)) = (2 - 6 / 5) / 2
    assert seen_ranked[5]["DIVERSITY_MEAN_INTER_LIST"] == pytest.approx(0.4)


def test_explicit_zeros_are_neither_test_items_nor_seen_items():
    train = sp.csr_matrix((np.array([1, 0], dtype=np.float32), ([0, 0], [0, 1])), shape=(2, 3))
    test = sp.csr_matrix((np.array([1, 0], dtype=np.float32), ([0, 1], [1, 2])), shape=(2, 3))
    model = FixedScores().fit(train, scores=np.array([[0, 2, 1], [0, 0, 0]]))
    evaluator = Evaluator(test, cutoffs=[1])
    results = evaluator.evaluate(model)
    assert evaluator.n_users_evaluated_ == 1  # user 1's only test entry is a stored zero
    assert results[1]["PRECISION"] == 1.0  # item 1 (a stored zero in train) is not excluded


def test_bad_input_is_rejected():
    test = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(TypeError, match="scipy sparse"):
        Evaluator(np.eye(3))
    with pytest.raises(ValueError, match="no user to evaluate"):
        Evaluator(sp.csr_matrix((3, 3)))
    with pytest.raises(ValueError, match="cutoffs"):
        Evaluator(test, cutoffs=[0, 5])
    with pytest.raises(ValueError, match="block_users"):
        Evaluator(test, block_users=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        Evaluator(test).evaluate(TopPop())
    with pytest.raises(ValueError, match="shape"):
        Evaluator(test).evaluate(TopPop().fit(sp.csr_matrix(np.ones((3, 4), dtype=np.float32))))
