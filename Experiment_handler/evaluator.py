"""Hold-out evaluation of a fitted recommender on a test matrix, every metric at every cutoff.

Users without test items are skipped. The others are ranked in blocks of
``block_users`` by the recommender's ``recommend`` (at most one ``block_users x n_items``
score array at a time; the similarity models score one row per thread instead), once
at the largest cutoff (seen items excluded when ``exclude_seen``), and every cutoff's
metrics are read from that ranking.

``SharedRankingEvaluator`` evaluates several hold-out matrices (validation and
test) from one ranking: each user with items in any of them is ranked once,
and each matrix's metrics are accumulated from those rankings in the same
blocks of the same users as ``Evaluator`` would, so the metrics are identical
(``==``) to separate evaluations wherever a user's scores do not depend on the
other users scored with it (true of every model here; a dense BLAS product may
round differently for a block of one user).
"""

import time

import numpy as np
import scipy.sparse as sp

from Experiment_handler.metrics import MetricsAccumulator, check_ndcg_gain, item_popularity
from Recommenders.base import SCORE_BLOCK_USERS

DEFAULT_CUTOFFS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 40, 50]
#: Early stopping watches NDCG at the first of the experiment's cutoffs, as the reference
#: (its ``Incremental_Training_Early_Stopping`` takes the evaluator's first cutoff).
EARLY_STOPPING_CUTOFF = DEFAULT_CUTOFFS[0]


def _canonical_csr(matrix) -> sp.csr_matrix:
    """The test matrix as CSR with duplicates summed, explicit zeros removed and sorted indices."""
    if not sp.issparse(matrix):
        raise TypeError(f"URM_test must be a scipy sparse matrix, got {type(matrix).__name__}")
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


class Evaluator:
    """Evaluates recommenders against ``URM_test`` (users x items; values are NDCG relevances,
    counted with ``ndcg_gain``: ``"exponential"`` 2^rel - 1 for ratings, ``"binary"`` for counts).

    ``evaluate(recommender)`` returns ``{cutoff: {METRIC: value}}`` with int cutoffs
    in increasing order and the metrics of ``Experiment_handler.metrics.METRICS``;
    ``n_users_evaluated_`` records how many users had test items.
    """

    def __init__(self, URM_test, cutoffs=DEFAULT_CUTOFFS, exclude_seen: bool = True,
                 block_users: int = SCORE_BLOCK_USERS, ndcg_gain: str = "exponential"):
        self.URM_test = _canonical_csr(URM_test)
        check_ndcg_gain(ndcg_gain, self.URM_test.data)
        self.ndcg_gain = ndcg_gain
        if len(cutoffs) == 0 or any(not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c < 1 for c in cutoffs):
            raise ValueError(f"cutoffs must be a non-empty list of positive integers, got {cutoffs!r}")
        if block_users < 1:
            raise ValueError(f"block_users must be at least 1, got {block_users}")
        self.cutoffs = sorted({int(c) for c in cutoffs})
        self.exclude_seen = bool(exclude_seen)
        self.block_users = int(block_users)
        self.users_to_evaluate = np.flatnonzero(np.diff(self.URM_test.indptr) > 0)
        if self.users_to_evaluate.size == 0:
            raise ValueError("URM_test has no interactions: no user to evaluate")

    def evaluate(self, recommender) -> dict[int, dict[str, float]]:
        """Every metric at every cutoff for a fitted recommender (``URM_train_``, ``recommend``)."""
        if not hasattr(recommender, "URM_train_"):
            raise RuntimeError(f"{type(recommender).__name__} is not fitted: call fit() first")
        URM_train = recommender.URM_train_
        if URM_train.shape != self.URM_test.shape:
            raise ValueError(f"URM_train has shape {URM_train.shape} but URM_test has shape {self.URM_test.shape}")
        return self.metrics_from(
            lambda users: recommender.recommend(users, self.cutoffs[-1], exclude_seen=self.exclude_seen), URM_train)

    def metrics_from(self, rank_users, URM_train) -> dict[int, dict[str, float]]:
        """The metrics from ``rank_users(users) -> ranked`` (int32 ``len(users) x K``), called for
        consecutive blocks of ``block_users`` of the evaluated users."""
        metrics = MetricsAccumulator(self.cutoffs, self.URM_test, item_popularity(URM_train), self.ndcg_gain)
        for start in range(0, self.users_to_evaluate.size, self.block_users):
            users = self.users_to_evaluate[start : start + self.block_users]
            metrics.add(rank_users(users), self.URM_test[users])
        self.n_users_evaluated_ = metrics.n_users
        return metrics.results()

class SharedRankingEvaluator:
    """Evaluates recommenders against several hold-out matrices from one ranking per user.

    ``holdouts``: ``{name: URM}`` (e.g. validation and test); the other arguments are
    ``Evaluator``'s, shared by every matrix. ``evaluate(recommender)``
    returns ``{name: {cutoff: {METRIC: value}}}``, each equal to ``Evaluator(URM).evaluate``,
    and records the times: ``ranking_seconds_`` (ranking every user with hold-out items
    once, in blocks of ``block_users``), ``metric_seconds_[name]`` (that matrix's metrics
    from the stored rankings) and ``seconds_[name]``, the cost of evaluating that matrix
    alone: ``ranking_seconds_`` times its share of the ranked users, plus its metric
    seconds. The rankings are kept for the call: ``4 * users * max(cutoffs)`` bytes.
    """

    def __init__(self, holdouts: dict, cutoffs=DEFAULT_CUTOFFS, exclude_seen: bool = True,
                 block_users: int = SCORE_BLOCK_USERS, ndcg_gain: str = "exponential"):
        if not holdouts:
            raise ValueError("holdouts must name at least one hold-out matrix")
        self.evaluators = {name: Evaluator(URM, cutoffs, exclude_seen, block_users, ndcg_gain)
                           for name, URM in holdouts.items()}
        first = next(iter(self.evaluators.values()))
        self.cutoffs, self.exclude_seen, self.block_users = first.cutoffs, first.exclude_seen, first.block_users
        shapes = {evaluator.URM_test.shape for evaluator in self.evaluators.values()}
        if len(shapes) > 1:
            raise ValueError(f"the hold-out matrices differ in shape: {sorted(shapes)}")
        self.users_to_rank = np.unique(np.concatenate([e.users_to_evaluate for e in self.evaluators.values()]))

    def evaluate(self, recommender) -> dict[str, dict[int, dict[str, float]]]:
        """Every metric at every cutoff of every hold-out matrix, from one ranking of each user."""
        first = next(iter(self.evaluators.values()))
        if not hasattr(recommender, "URM_train_"):
            raise RuntimeError(f"{type(recommender).__name__} is not fitted: call fit() first")
        URM_train = recommender.URM_train_
        if URM_train.shape != first.URM_test.shape:
            raise ValueError(f"URM_train has shape {URM_train.shape} but the hold-out matrices have shape "
                             f"{first.URM_test.shape}")
        start = time.perf_counter()
        blocks = [recommender.recommend(self.users_to_rank[begin : begin + self.block_users], self.cutoffs[-1],
                                        exclude_seen=self.exclude_seen)
                  for begin in range(0, self.users_to_rank.size, self.block_users)]
        ranked = np.vstack(blocks)
        self.ranking_seconds_ = time.perf_counter() - start
        results, self.metric_seconds_, self.seconds_ = {}, {}, {}
        for name, evaluator in self.evaluators.items():
            start = time.perf_counter()
            results[name] = evaluator.metrics_from(
                lambda users: ranked[np.searchsorted(self.users_to_rank, users)], URM_train)
            self.metric_seconds_[name] = time.perf_counter() - start
            share = evaluator.users_to_evaluate.size / self.users_to_rank.size
            self.seconds_[name] = self.ranking_seconds_ * share + self.metric_seconds_[name]
        return results


def early_stopping_metric(URM_validation, exclude_seen: bool, ndcg_gain: str = "exponential"):
    """``metric(recommender) -> float``: validation NDCG at ``EARLY_STOPPING_CUTOFF``, the value
    the neural models' early stopping maximises."""
    evaluator = Evaluator(URM_validation, cutoffs=[EARLY_STOPPING_CUTOFF], exclude_seen=exclude_seen,
                          ndcg_gain=ndcg_gain)
    return lambda recommender: evaluator.evaluate(recommender)[EARLY_STOPPING_CUTOFF]["NDCG"]
