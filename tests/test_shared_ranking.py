"""SharedRankingEvaluator: validation and test metrics from one ranking equal separate evaluations."""

import numpy as np
import pytest
import scipy.sparse as sp

from Data_manager.synthetic import generate_synthetic
from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator, SharedRankingEvaluator
from Recommenders.registry import get_algorithm


def holdout_split(seed: int = 0):
    """SyntheticSmall with two random hold-outs; some users keep only validation or only test items."""
    URM = generate_synthetic("SyntheticSmall").URM_all.tocoo()
    rng = np.random.default_rng(seed)
    part = rng.choice(3, URM.nnz, p=[0.7, 0.15, 0.15])
    users = np.unique(URM.row)
    only_validation, only_test = users[:40], users[40:80]
    part[np.isin(URM.row, only_validation) & (part == 2)] = 0
    part[np.isin(URM.row, only_test) & (part == 1)] = 0
    matrices = [sp.csr_matrix((URM.data[part == p], (URM.row[part == p], URM.col[part == p])), shape=URM.shape)
                for p in range(3)]
    return matrices


@pytest.mark.parametrize("alg", ["ItemKNNCF_cosine", "EASE_R_Recommender", "PureSVDRecommender", "TopPop",
                                 "SLIMElasticNetRecommender"])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_shared_ranking_equals_separate_evaluations(alg, exclude_seen):
    train, validation, test = holdout_split()
    spec = get_algorithm(alg)
    model = spec.recommender_class(seed=0).fit(train, **spec.fit_args, **spec.space.default)
    block = 64  # several blocks, and blocks that mix users of both sets
    shared = SharedRankingEvaluator({"validation": validation, "test": test}, DEFAULT_CUTOFFS, exclude_seen, block)
    results = shared.evaluate(model)
    for name, URM in (("validation", validation), ("test", test)):
        separate = Evaluator(URM, DEFAULT_CUTOFFS, exclude_seen, block).evaluate(model)
        assert results[name] == separate
    validation_users = set(np.flatnonzero(np.diff(validation.indptr)))
    test_users = set(np.flatnonzero(np.diff(test.indptr)))
    assert validation_users - test_users and test_users - validation_users  # users of one set only
    assert shared.users_to_rank.size == len(validation_users | test_users)
    for name in ("validation", "test"):
        assert 0 <= shared.metric_seconds_[name] <= shared.seconds_[name]
        assert shared.seconds_[name] <= shared.ranking_seconds_ + shared.metric_seconds_[name]


def test_each_user_is_ranked_once():
    train, validation, test = holdout_split(1)
    spec = get_algorithm("TopPop")
    model = spec.recommender_class().fit(train)
    ranked_users = []
    recommend = model.recommend
    model.recommend = lambda users, cutoff, exclude_seen=True: ranked_users.extend(users) or recommend(
        users, cutoff, exclude_seen)
    SharedRankingEvaluator({"validation": validation, "test": test}, block_users=50).evaluate(model)
    assert sorted(ranked_users) == sorted(set(ranked_users))
    assert set(ranked_users) == set(np.flatnonzero(np.diff(validation.indptr) + np.diff(test.indptr)))


def test_bad_holdouts_are_refused():
    train, validation, test = holdout_split()
    with pytest.raises(ValueError, match="at least one"):
        SharedRankingEvaluator({})
    with pytest.raises(ValueError, match="differ in shape"):
        SharedRankingEvaluator({"validation": validation, "test": test[:, :10]})
    with pytest.raises(RuntimeError, match="not fitted"):
        SharedRankingEvaluator({"test": test}).evaluate(get_algorithm("TopPop").recommender_class())
