"""Evaluation metrics, with the reference's definitions, accumulated over blocks of users.

Notation, for an evaluated user ``u`` (one with test items) and a cutoff ``c``:
``T_u`` is the user's set of test items, ``rel_u(i)`` the test matrix's value of
item ``i`` (0 outside ``T_u``); ``L`` is the recommendation list cut at ``c``,
which can be shorter than ``c`` when excluded (seen) items leave fewer rankable
items; ``hit_j`` is 1 when the item at rank ``j`` (1-based) is in ``T_u``;
``H = sum_{j<=|L|} hit_j``. Per-user metrics are averaged over the ``U``
evaluated users. Global metrics use ``n_c(i)``, the number of evaluated users
whose list cut at ``c`` holds item ``i``, over all ``N`` items, and the
training popularity ``pop(i)``, the number of users with a non-zero training
value for ``i``. Every cutoff is read from one ranking at the largest cutoff: the
per-user metrics of a block in one pass over each user's ranks (``_metrics``), then
summed over the block's users with numpy.

NDCG's gain ``g(rel)`` is ``2^rel - 1`` (``"exponential"``, the reference's, for
ratings) or ``1`` for every test item (``"binary"``, for datasets whose values are
counts, where ``2^rel`` overflows: Last.fm's play counts reach 352,698).
``NDCG_GAIN_OF_VALUE_KIND`` picks it from the dataset's ``value_kind``.
"""

import numpy as np
import scipy.sparse as sp

from Experiment_handler._metrics import PER_USER_METRICS, accumulate_block
from Recommenders.matrix_products import column_counts

#: Metric names, in the order of every result dictionary.
METRICS = (
    "PRECISION",
    "PRECISION_RECALL_MIN_DEN",
    "RECALL",
    "MAP",
    "MAP_MIN_DEN",
    "MRR",
    "NDCG",
    "F1",
    "HIT_RATE",
    "ARHR_ALL_HITS",
    "NOVELTY",
    "AVERAGE_POPULARITY",
    "DIVERSITY_MEAN_INTER_LIST",
    "DIVERSITY_HERFINDAHL",
    "COVERAGE_ITEM",
    "COVERAGE_ITEM_HIT",
    "ITEMS_IN_GT",
    "COVERAGE_USER",
    "COVERAGE_USER_HIT",
    "USERS_IN_GT",
    "DIVERSITY_GINI",
    "SHANNON_ENTROPY",
)


#: NDCG gain by dataset ``value_kind`` (``Data_manager.dataset_format.VALUE_KINDS``).
NDCG_GAIN_OF_VALUE_KIND = {"rating": "exponential", "count": "binary", "binary": "binary"}
NDCG_GAINS = ("exponential", "binary")
#: Largest relevance the exponential gain accepts: 50 ranks of 2^1000 stay finite in float64.
MAX_EXPONENTIAL_RELEVANCE = 1000.0


def ndcg_gain_for(value_kind: str | None) -> str:
    """The NDCG gain for a dataset's ``value_kind``; ``None`` (a split of an older version,
    which did not record it) is taken as ratings."""
    return NDCG_GAIN_OF_VALUE_KIND[value_kind or "rating"]


def check_ndcg_gain(ndcg_gain: str, relevance: np.ndarray) -> None:
    """``ValueError`` when ``ndcg_gain`` is unknown, or exponential for values it would overflow on."""
    if ndcg_gain not in NDCG_GAINS:
        raise ValueError(f"ndcg_gain must be one of {', '.join(NDCG_GAINS)}, got {ndcg_gain!r}")
    largest = float(np.max(relevance, initial=0.0))
    if ndcg_gain == "exponential" and not largest <= MAX_EXPONENTIAL_RELEVANCE:
        raise ValueError(
            f"NDCG's exponential gain 2^rel - 1 overflows at the value {largest:g} (above "
            f"{MAX_EXPONENTIAL_RELEVANCE:g}): these values are counts, not ratings; use the binary gain"
        )


def _gain(relevance: np.ndarray, ndcg_gain: str) -> np.ndarray:
    """NDCG gain of each relevance: ``2^rel - 1`` (exponential) or 1 for a test item (binary)."""
    if ndcg_gain == "binary":
        return (relevance != 0).astype(np.float64)
    return np.power(2.0, relevance) - 1.0


# Per-user metrics, computed per block by ``_metrics.accumulate_block`` and averaged over users:
#
# PRECISION = H / |L|; PRECISION_RECALL_MIN_DEN = H / min(|T_u|, |L|); RECALL = H / |T_u|;
# MAP = sum_{j<=|L|} hit_j * P@j / |L| with P@j = (sum_{i<=j} hit_i) / j (dividing by the list
# length, i.e. the cutoff unless fewer items were rankable); MAP_MIN_DEN = the same sum over
# min(|T_u|, |L|); MRR = 1 / (rank of the first hit in L), 0 without a hit;
# NDCG = DCG / IDCG, with DCG = sum_{j<=|L|} g(rel_u(L_j)) / log2(j + 1) and IDCG the same sum
# over the user's test values sorted decreasing, truncated at c (0 when DCG or IDCG is 0);
# HIT_RATE = 1 if H > 0 else 0; ARHR_ALL_HITS = sum_{j<=|L|} hit_j / j;
# NOVELTY = sum_{i in L, pop(i) > 0} -log2(pop(i) / sum_k pop(k)) / N (items without training
# interactions add 0); AVERAGE_POPULARITY = mean_{i in L} pop(i) / max_k pop(k) (NaN when no
# item has training interactions). Ratios with a zero denominator (an empty list) are 0.


def _item_novelty(item_popularity: np.ndarray) -> np.ndarray:
    """Each item's term of NOVELTY: -log2(pop(i) / sum_k pop(k)) / N, 0 where pop(i) = 0."""
    total = item_popularity.sum()
    item_novelty = np.zeros(item_popularity.size)
    known = item_popularity > 0
    item_novelty[known] = -np.log2(item_popularity[known] / total) / item_popularity.size
    return item_novelty


def _normalized_popularity(item_popularity: np.ndarray) -> np.ndarray:
    """pop(i) / max_k pop(k), NaN everywhere when no item has training interactions."""
    top = item_popularity.max(initial=0)
    return item_popularity / top if top > 0 else np.full(item_popularity.size, np.nan)


def _test_gains(test_rows: sp.csr_matrix, ndcg_gain: str) -> tuple[np.ndarray, np.ndarray]:
    """NDCG gain of each test entry, and each row's gains sorted by decreasing relevance."""
    relevance = test_rows.data.astype(np.float64)
    entry_rows = np.repeat(np.arange(test_rows.shape[0]), np.diff(test_rows.indptr))
    order = np.lexsort((-relevance, entry_rows))
    return _gain(relevance, ndcg_gain), _gain(relevance[order], ndcg_gain)


# Global metrics, from the per-cutoff counts gathered over every block.


def f1(precision_value: float, recall_value: float) -> float:
    """F1 = 2 P R / (P + R) from the user-averaged PRECISION and RECALL (0 when both are 0)."""
    total = precision_value + recall_value
    return 2 * precision_value * recall_value / total if total != 0 else 0.0


def diversity_mean_inter_list(item_counts: np.ndarray, n_users: int, cutoff: int) -> float:
    """DIVERSITY_MEAN_INTER_LIST = 1 - (sum_i n_c(i)^2 - U c) / (c U (U - 1)): with full
    lists, the mean over ordered user pairs of 1 - |common items| / c. The reference's
    closed form is kept for shorter lists, where it can exceed 1 (NaN for one user)."""
    pairs = n_users * (n_users - 1)
    if pairs == 0:
        return float("nan")
    co_occurrences = np.sum(np.square(item_counts, dtype=np.float64)) - n_users * cutoff
    return float((pairs - co_occurrences / cutoff) / pairs)


def diversity_herfindahl(item_counts: np.ndarray) -> float:
    """DIVERSITY_HERFINDAHL = 1 - sum_i (n_c(i) / sum_k n_c(k))^2 (NaN without recommendations)."""
    total = item_counts.sum()
    if total == 0:
        return float("nan")
    return float(1.0 - np.sum(np.square(item_counts / total)))


def coverage_item(item_counts: np.ndarray) -> float:
    """COVERAGE_ITEM = |{i : n_c(i) > 0}| / N."""
    return float(np.count_nonzero(item_counts) / item_counts.size)


def coverage_item_hit(item_was_hit: np.ndarray) -> float:
    """COVERAGE_ITEM_HIT = |{i : i is a hit in some user's L}| / N."""
    return float(np.count_nonzero(item_was_hit) / item_was_hit.size)


def items_in_gt(URM_test: sp.csr_matrix) -> float:
    """ITEMS_IN_GT = |{i : i has a test interaction}| / N (the same for every cutoff)."""
    return float(np.unique(URM_test.indices).size / URM_test.shape[1])


def coverage_user(n_users_with_list: int, n_users_total: int) -> float:
    """COVERAGE_USER = |{u : L non-empty}| / (all users of the test matrix)."""
    return n_users_with_list / n_users_total


def coverage_user_hit(n_users_with_hit: int, n_users_total: int) -> float:
    """COVERAGE_USER_HIT = |{u : H > 0}| / (all users of the test matrix)."""
    return n_users_with_hit / n_users_total


def users_in_gt(URM_test: sp.csr_matrix) -> float:
    """USERS_IN_GT = |{u : T_u non-empty}| / (all users of the test matrix) (every cutoff)."""
    return float(np.count_nonzero(np.diff(URM_test.indptr)) / URM_test.shape[0])


def diversity_gini(item_counts: np.ndarray) -> float:
    """DIVERSITY_GINI = 2 sum_{k=1..N} (N + 1 - k) / (N + 1) * m_k / sum m, with m the counts
    n_c(i) of all N items sorted increasing (an inverted Gini index: high is diverse;
    NaN without recommendations)."""
    total = item_counts.sum()
    if total == 0:
        return float("nan")
    n_items = item_counts.size
    index = np.arange(1, n_items + 1)
    return float(2 * np.sum((n_items + 1 - index) / (n_items + 1) * np.sort(item_counts) / total))


def shannon_entropy(item_counts: np.ndarray) -> float:
    """SHANNON_ENTROPY = -sum_{i : n_c(i) > 0} p_i log2 p_i with p_i = n_c(i) / sum_k n_c(k)."""
    counts = item_counts[item_counts > 0]
    if counts.size == 0:
        return 0.0
    probability = counts / counts.sum()
    return float(-np.sum(probability * np.log2(probability)))


def item_popularity(URM_train: sp.spmatrix) -> np.ndarray:
    """pop(i): the number of users with a non-zero training value for item ``i``."""
    return column_counts(sp.csr_matrix(URM_train), nonzero_only=True).astype(np.float64)



class MetricsAccumulator:
    """Gathers every metric at every cutoff over blocks of users, then finalises them.

    ``URM_test``: CSR test matrix (zeros eliminated, sorted indices);
    ``item_popularity``: ``pop(i)`` from the training matrix; ``ndcg_gain``: one of
    ``NDCG_GAINS`` (checked against the test values).
    """

    def __init__(self, cutoffs, URM_test: sp.csr_matrix, item_popularity: np.ndarray,
                 ndcg_gain: str = "exponential"):
        self.cutoffs = np.asarray(cutoffs, dtype=np.int64)
        if self.cutoffs.ndim != 1 or self.cutoffs.size == 0 or self.cutoffs[0] < 1 or np.any(np.diff(self.cutoffs) <= 0):
            raise ValueError(f"cutoffs must be positive and strictly increasing, got {list(cutoffs)}")
        check_ndcg_gain(ndcg_gain, URM_test.data)
        self.ndcg_gain = ndcg_gain
        self.URM_test = URM_test
        item_popularity = np.asarray(item_popularity, dtype=np.float64)
        self.item_novelty = _item_novelty(item_popularity)
        self.item_normalized_popularity = _normalized_popularity(item_popularity)
        n_cutoffs, n_items = self.cutoffs.size, URM_test.shape[1]
        self.width = min(int(self.cutoffs[-1]), n_items)
        self.discount = np.log2(np.arange(1, self.width + 1, dtype=np.float64) + 1.0)
        self.n_users = 0
        self.sums = {name: np.zeros(n_cutoffs) for name in PER_USER_METRICS}
        self.n_users_with_list = 0
        self.n_users_with_hit = np.zeros(n_cutoffs, dtype=np.int64)
        # Per item: how often it was ranked in each cutoff's "band" of ranks
        # (previous cutoff, cutoff], summed over bands at the end; and the first
        # band in which it was a hit (n_cutoffs: never).
        self.band_counts = np.zeros((n_cutoffs, n_items), dtype=np.int32)
        self.first_hit_band = np.full(n_items, n_cutoffs, dtype=np.int32)

    def add(self, ranked: np.ndarray, test_rows: sp.csr_matrix) -> None:
        """Add a block: ``ranked`` (int32 ``n x K``, -1 padded, K = min(largest cutoff, N))
        and the same users' test rows."""
        if ranked.ndim != 2 or ranked.shape[1] != self.width:
            raise ValueError(f"ranked must have {self.width} columns (largest cutoff or item count), "
                             f"got shape {ranked.shape}")
        if ranked.size and (ranked.min() < -1 or ranked.max() >= self.URM_test.shape[1]):
            raise ValueError(f"ranked item ids must lie in [-1, {self.URM_test.shape[1]})")
        if test_rows.shape[0] != ranked.shape[0]:
            raise ValueError(f"ranked has {ranked.shape[0]} rows but test_rows has {test_rows.shape[0]}")
        if not test_rows.has_sorted_indices:
            test_rows = test_rows.sorted_indices()
        test_gain, ideal_gain = _test_gains(test_rows, self.ndcg_gain)
        per_user = np.empty((len(PER_USER_METRICS), self.cutoffs.size, ranked.shape[0]))
        self.n_users_with_list += accumulate_block(
            np.ascontiguousarray(ranked, dtype=np.int32), test_rows.indptr.astype(np.int64),
            test_rows.indices.astype(np.int32, copy=False), test_gain, ideal_gain, self.cutoffs, self.discount,
            self.item_novelty, self.item_normalized_popularity, per_user, self.band_counts, self.first_hit_band,
            self.n_users_with_hit)
        self.n_users += ranked.shape[0]
        for name, values in zip(PER_USER_METRICS, per_user.sum(axis=2)):
            self.sums[name] += values

    def results(self) -> dict[int, dict[str, float]]:
        """``{cutoff: {metric: value}}``, metrics in ``METRICS`` order."""
        if self.n_users == 0:
            raise ValueError("no user was evaluated")
        item_counts = np.cumsum(self.band_counts, axis=0, dtype=np.int64)
        n_users_total = self.URM_test.shape[0]
        constant = {"ITEMS_IN_GT": items_in_gt(self.URM_test), "USERS_IN_GT": users_in_gt(self.URM_test)}
        results = {}
        for index, cutoff in enumerate(self.cutoffs.tolist()):
            values = {name: float(total[index] / self.n_users) for name, total in self.sums.items()}
            counts = item_counts[index]
            values.update(constant)
            values["F1"] = f1(values["PRECISION"], values["RECALL"])
            values["DIVERSITY_MEAN_INTER_LIST"] = diversity_mean_inter_list(counts, self.n_users, cutoff)
            values["DIVERSITY_HERFINDAHL"] = diversity_herfindahl(counts)
            values["COVERAGE_ITEM"] = coverage_item(counts)
            values["COVERAGE_ITEM_HIT"] = coverage_item_hit(self.first_hit_band <= index)
            values["COVERAGE_USER"] = coverage_user(self.n_users_with_list, n_users_total)
            values["COVERAGE_USER_HIT"] = coverage_user_hit(int(self.n_users_with_hit[index]), n_users_total)
            values["DIVERSITY_GINI"] = diversity_gini(counts)
            values["SHANNON_ENTROPY"] = shannon_entropy(counts)
            results[cutoff] = {name: values[name] for name in METRICS}
        return results
