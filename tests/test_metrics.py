"""Every metric against values computed by hand on a tiny example.

Six items, four test users (the last without test items, so not evaluated),
train popularity pop = [4, 2, 1, 0, 1, 0], cutoffs 1, 2, 3. Rankings:
  A: [0, 1, 2]   test {1: 5, 3: 1}   (one hit at rank 2, relevance 5)
  B: [2, 4, -]   test {2: 1}         (a list shorter than the cutoff)
  C: [5, 0, 1]   test {4: 2}         (no hit)
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from Experiment_handler.metrics import METRICS, MetricsAccumulator, item_popularity

LOG3 = math.log2(3)
NDCG_A = (31 / LOG3) / (31 + 1 / LOG3)

EXPECTED = {
    1: {
        "PRECISION": 1 / 3, "PRECISION_RECALL_MIN_DEN": 1 / 3, "RECALL": 1 / 3, "MAP": 1 / 3,
        "MAP_MIN_DEN": 1 / 3, "MRR": 1 / 3, "NDCG": 1 / 3, "F1": 1 / 3, "HIT_RATE": 1 / 3,
        "ARHR_ALL_HITS": 1 / 3, "NOVELTY": 2 / 9, "AVERAGE_POPULARITY": 5 / 12,
        "DIVERSITY_MEAN_INTER_LIST": 1.0, "DIVERSITY_HERFINDAHL": 2 / 3, "COVERAGE_ITEM": 1 / 2,
        "COVERAGE_ITEM_HIT": 1 / 6, "ITEMS_IN_GT": 2 / 3, "COVERAGE_USER": 3 / 4,
        "COVERAGE_USER_HIT": 1 / 4, "USERS_IN_GT": 3 / 4, "DIVERSITY_GINI": 4 / 7,
        "SHANNON_ENTROPY": LOG3,
    },
    2: {
        "PRECISION": 1 / 3, "PRECISION_RECALL_MIN_DEN": 1 / 2, "RECALL": 1 / 2, "MAP": 1 / 4,
        "MAP_MIN_DEN": 5 / 12, "MRR": 1 / 2, "NDCG": (NDCG_A + 1) / 3, "F1": 2 / 5, "HIT_RATE": 2 / 3,
        "ARHR_ALL_HITS": 1 / 2, "NOVELTY": 5 / 9, "AVERAGE_POPULARITY": 1 / 2,
        "DIVERSITY_MEAN_INTER_LIST": 5 / 6, "DIVERSITY_HERFINDAHL": 7 / 9, "COVERAGE_ITEM": 5 / 6,
        "COVERAGE_ITEM_HIT": 1 / 3, "ITEMS_IN_GT": 2 / 3, "COVERAGE_USER": 3 / 4,
        "COVERAGE_USER_HIT": 1 / 2, "USERS_IN_GT": 3 / 4, "DIVERSITY_GINI": 16 / 21,
        "SHANNON_ENTROPY": LOG3 / 3 + 2 * math.log2(6) / 3,
    },
    3: {
        # B's list holds 2 items: PRECISION and MAP divide by 2 for B, not by 3.
        "PRECISION": 5 / 18, "PRECISION_RECALL_MIN_DEN": 1 / 2, "RECALL": 1 / 2, "MAP": 2 / 9,
        "MAP_MIN_DEN": 5 / 12, "MRR": 1 / 2, "NDCG": (NDCG_A + 1) / 3, "F1": 5 / 14, "HIT_RATE": 2 / 3,
        "ARHR_ALL_HITS": 1 / 2, "NOVELTY": 5 / 6, "AVERAGE_POPULARITY": 4 / 9,
        "DIVERSITY_MEAN_INTER_LIST": 13 / 18, "DIVERSITY_HERFINDAHL": 25 / 32, "COVERAGE_ITEM": 5 / 6,
        "COVERAGE_ITEM_HIT": 1 / 3, "ITEMS_IN_GT": 2 / 3, "COVERAGE_USER": 3 / 4,
        "COVERAGE_USER_HIT": 1 / 2, "USERS_IN_GT": 3 / 4, "DIVERSITY_GINI": 3 / 4,
        "SHANNON_ENTROPY": 2.25,
    },
}

RANKED = np.array([[0, 1, 2], [2, 4, -1], [5, 0, 1]], dtype=np.int32)
URM_TEST = sp.csr_matrix(
    (np.array([5, 1, 1, 2], dtype=np.float32), (np.array([0, 0, 1, 2]), np.array([1, 3, 2, 4]))), shape=(4, 6)
)
POPULARITY = np.array([4, 2, 1, 0, 1, 0], dtype=np.float64)


def accumulate(blocks):
    metrics = MetricsAccumulator([1, 2, 3], URM_TEST, POPULARITY)
    for rows in blocks:
        metrics.add(RANKED[rows], URM_TEST[rows])
    return metrics.results()


@pytest.mark.parametrize("blocks", [[[0, 1, 2]], [[0], [1, 2]]], ids=["one block", "two blocks"])
def test_every_metric_by_hand(blocks):
    results = accumulate(blocks)
    assert list(results) == [1, 2, 3]
    for cutoff, expected in EXPECTED.items():
        assert list(results[cutoff]) == list(METRICS)
        for metric in METRICS:
            assert results[cutoff][metric] == pytest.approx(expected[metric], rel=1e-12), (cutoff, metric)


def test_ndcg_uses_test_values_and_a_truncated_ideal():
    # Test values 3 and 1; the hit at rank 1 is the value-1 item. At cutoff 1 the ideal
    # holds only the best item (2^3 - 1), at cutoff 2 both.
    test = sp.csr_matrix(np.array([[3, 1, 0]], dtype=np.float32))
    metrics = MetricsAccumulator([1, 2], test, np.ones(3))
    metrics.add(np.array([[1, 2]], dtype=np.int32), test)
    results = metrics.results()
    assert results[1]["NDCG"] == pytest.approx(1 / 7)
    assert results[2]["NDCG"] == pytest.approx(1 / (7 + 1 / LOG3))


def test_cutoff_beyond_the_catalogue_and_a_single_user():
    # Two items, cutoff 5: the list holds 2 items; MAP divides by the list length.
    test = sp.csr_matrix(np.array([[0, 1]], dtype=np.float32))
    metrics = MetricsAccumulator([1, 5], test, np.array([1.0, 1.0]))
    metrics.add(np.array([[0, 1]], dtype=np.int32), test)
    results = metrics.results()
    assert results[5]["PRECISION"] == pytest.approx(1 / 2)
    assert results[5]["MAP"] == pytest.approx((1 / 2) / 2)
    assert results[5]["MAP_MIN_DEN"] == pytest.approx(1 / 2)
    assert results[1]["RECALL"] == 0 and results[5]["RECALL"] == 1
    assert math.isnan(results[5]["DIVERSITY_MEAN_INTER_LIST"])  # undefined for one user
    assert results[5]["COVERAGE_ITEM"] == 1


def test_item_popularity_counts_nonzero_training_values():
    train = sp.csr_matrix((np.array([1, 0, 2, 3], dtype=np.float32), ([0, 0, 1, 2], [0, 1, 1, 1])), shape=(3, 3))
    np.testing.assert_array_equal(item_popularity(train), [1, 2, 0])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="strictly increasing"):
        MetricsAccumulator([5, 1], URM_TEST, POPULARITY)
    metrics = MetricsAccumulator([1, 2, 3], URM_TEST, POPULARITY)
    with pytest.raises(ValueError, match="no user was evaluated"):
        metrics.results()
    with pytest.raises(ValueError, match="3 columns"):
        metrics.add(RANKED[:, :2], URM_TEST[:3])
    with pytest.raises(ValueError, match="rows"):
        metrics.add(RANKED, URM_TEST)
