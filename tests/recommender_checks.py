"""Checks shared by the SGD, ALS and rating model tests: a planted dataset, NDCG@10, a search run.

Users and items fall into ``n_groups`` taste groups of equal size; a user interacts with
an item of its own group with probability 0.3 and of another group with 0.02, so item
popularity is flat (TopPop is near random). Ratings are ``1 + 2 [same group] + q_i + noise``
with an item quality ``q_i ~ U(0, 2)``: rank ``n_groups + 1`` plus noise. Each user's
best-rated interaction is held out as the test item (an in-group, high-quality item, which
interaction models and rating predictors can both find).
"""

import numpy as np
import scipy.sparse as sp

from Experiment_handler.evaluator import Evaluator
from Experiment_handler.result_zip import read_result_metadata
from Recommenders.non_personalized import TopPop
from tests.conftest import run_module
from tests.test_run_experiment import check_contract, experiment_args


def planted_split(n_users=240, n_items=120, n_groups=4, seed=0, out_group_rate=0.0):
    """``(URM_train, URM_test)``: float32 ratings, and each user's best-rated item (value 1)."""
    rng = np.random.default_rng(seed)
    same = (np.arange(n_users) % n_groups)[:, None] == (np.arange(n_items) % n_groups)[None, :]
    interacted = rng.random((n_users, n_items)) < np.where(same, 0.3, out_group_rate)
    interacted[np.arange(n_users), np.arange(n_users) % n_groups] = True  # at least one in-group item
    quality = rng.uniform(0.0, 2.0, n_items)
    ratings = 1.0 + 2.0 * same + quality[None, :] + rng.normal(0.0, 0.3, same.shape)
    ratings = np.where(interacted, np.clip(ratings, 1.0, 5.0), 0.0).astype(np.float32)
    best = ratings.argmax(axis=1)
    test = np.zeros_like(ratings)
    test[np.arange(n_users), best] = 1.0
    ratings[np.arange(n_users), best] = 0.0
    return sp.csr_matrix(ratings), sp.csr_matrix(test)


def ndcg_at_10(recommender, URM_test) -> float:
    """NDCG@10 of a fitted recommender, seen items excluded."""
    return Evaluator(URM_test, cutoffs=[10]).evaluate(recommender)[10]["NDCG"]


def toppop_ndcg(URM_train, URM_test) -> float:
    return ndcg_at_10(TopPop().fit(URM_train), URM_test)


def assert_two_samples_run(alg: str, split_dir, result_dir) -> None:
    """``run_experiment`` with 2 samples of ``alg`` on the given split: both fit and are evaluated."""
    result = run_module("Experiment_handler.run_experiment",
                        *experiment_args(split_dir, result_dir, alg=alg, samples=2, time_limit=120))
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(result_dir / "result.zip")
    check_contract(metadata)
    assert metadata["status"] == "complete"
    expected = 1 if alg == "SlopeOne" else 2  # SlopeOne has no hyperparameters
    assert len(metadata["samples"]) == expected
    for sample in metadata["samples"]:
        assert sample["exception"] is None
        assert 0 <= sample["result_on_test"]["10"]["NDCG"] <= 1
