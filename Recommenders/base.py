"""The contract every recommender follows: ``fit`` / ``score`` / ``recommend``.

Subclasses implement ``_fit(URM_train, **hyperparameters)`` and ``_score(user_ids)``,
and override ``estimate_memory_bytes`` when their peak memory is more than a copy
of the training matrix plus one block of scores. The public methods fill the
hyperparameters not given from the registry (its specs are the one source of
defaults: ``_fit`` declares none for an argument the registry names), validate
input, check the memory estimate against the budget, and time the fit, so that
this lives in one place. Fitted attributes end in ``_``.
"""

import time

import numpy as np
import scipy.sparse as sp

from Recommenders.matrix_products import COUNT_CHUNK
from Recommenders.memory import check_memory_estimate, release_freed_memory
from Recommenders.ranking import rank_top_k
from Recommenders.threads import configured_threads

#: Users scored at once by callers that loop over all users (evaluator, recommend).
SCORE_BLOCK_USERS = 1000
#: Ranks an evaluation reads per user (the largest default cutoff), and the bytes its metrics
#: keep per rank of a block of users (about eight 8-byte arrays: ranked keys, hits, gains, sums).
EVALUATED_RANKS = 50
METRIC_BYTES_PER_RANK = 64


def as_csr_float32(matrix) -> sp.csr_matrix:
    """The matrix as canonical CSR float32 (sorted indices, no explicit duplicates)."""
    if not sp.issparse(matrix):
        raise TypeError(f"URM_train must be a scipy sparse matrix, got {type(matrix).__name__}")
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sum_duplicates()
    csr.sort_indices()
    return csr


def score_block_users(n_users: int) -> int:
    """Users in the largest block an evaluation scores: ``SCORE_BLOCK_USERS``, or all of them when fewer."""
    return min(SCORE_BLOCK_USERS, n_users)


def evaluation_memory_bytes(n_users: int, n_items: int, n_interactions: int, score_block: bool = True,
                            score_temporaries: int = 0) -> int:
    """What an evaluation adds: the training popularity's temporary arrays (``column_counts``:
    13 bytes per entry of a chunk, and int64 and float64 counts per item), the canonical copies
    of validation and test (8 bytes per hold-out interaction, and their row pointers; the
    hold-outs taken as at most 2/3 of the training interactions or 2 per user, whichever is
    more: leave-one-out holds out 2 per user, the global timestamp split 40% of all
    interactions, 2/3 of the 60% it trains on, more only by timestamps tied at its cut), one
    float32 block of scores or, for a model that scores and ranks one user at a time
    (``score_block=False``), a float32 row and its row pointers per thread, the metrics' arrays
    of a block's ranking, and the int32 rankings of every user kept for validation and test
    (the blocks and their stacked copy). The freed block of scores is counted under the
    metrics, as glibc may keep it resident (TopPop at 6,000 x 2,000). ``score_temporaries``,
    what a model's ``_score`` makes for a block beside it, exist only while users are ranked,
    before the popularity, the metrics' arrays and the stacked rankings: the larger of the two
    counts."""
    hold_out_copies = max(2 * n_interactions // 3, 2 * n_users) * 8 + n_users * 8
    block = score_block_users(n_users)
    scores = block * n_items * 4 if score_block else configured_threads() * n_items * 4 + n_users * 8
    ranking_blocks = n_users * EVALUATED_RANKS * 4
    after_ranking = (min(n_interactions, COUNT_CHUNK) * 13 + n_items * 24  # the popularity's temporaries
                     + block * EVALUATED_RANKS * METRIC_BYTES_PER_RANK + ranking_blocks)
    return hold_out_copies + scores + ranking_blocks + max(score_temporaries, after_ranking)


class BaseRecommender:
    """Base class: subclasses define ``_fit`` and ``_score``."""

    #: For a class behind several registry entries (one per similarity, say): the fit
    #: argument that tells them apart and its value when ``fit`` is not given it.
    VARIANT_ARGUMENT: tuple[str, object] | None = None

    def __init__(self, seed: int = 0):
        self.seed = seed

    @classmethod
    def default_hyperparameters(cls, given: dict | None = None) -> dict:
        """The registry's default of every fit argument of this class (its entries' fixed
        arguments and space defaults; see ``Recommenders.registry.registry_defaults``)."""
        from Recommenders.registry import registry_defaults  # here: the registry imports every model

        return registry_defaults(cls, given or {})

    @classmethod
    def with_defaults(cls, hyperparameters: dict) -> dict:
        """``hyperparameters`` completed with the registry's defaults of the ones not given."""
        return {**cls.default_hyperparameters(hyperparameters), **hyperparameters}

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        """Estimated peak bytes that fitting and evaluating add to the loaded split (whose
        matrices are float32 CSR already, so ``fit`` converts nothing): by default
        ``evaluation_memory_bytes``. Every estimate is an upper bound of the measured peak,
        within 1.5 times of it where the data outweigh fixed costs
        (``tests/test_memory_estimates.py``, ``benchmarks/bench_memory_estimates.py``).
        Overrides read the hyperparameters through ``with_defaults``, as ``fit`` does."""
        # a ``_rank`` override scores one user at a time into its ranking: no block of scores
        ranks_from_score_blocks = cls._rank is BaseRecommender._rank
        return evaluation_memory_bytes(n_users, n_items, n_interactions, ranks_from_score_blocks)

    def fit(self, URM_train, **hyperparameters) -> "BaseRecommender":
        """Validate the matrix, check the memory budget, fit, return the fit's freed temporaries
        to the system (so that an evaluation does not come on top of them), and record ``fit_seconds_``.

        Hyperparameters not given take the registry's defaults (``default_hyperparameters``),
        so ``fit(URM)`` is the search's default configuration.
        """
        hyperparameters = self.with_defaults(hyperparameters)
        URM = as_csr_float32(URM_train)
        n_users, n_items = URM.shape
        if n_users == 0 or n_items == 0:
            raise ValueError(f"URM_train has an empty dimension: shape {URM.shape}")
        estimate = self.estimate_memory_bytes(n_users, n_items, URM.nnz, **hyperparameters)
        check_memory_estimate(type(self).__name__, estimate)
        start = time.perf_counter()
        self.URM_train_ = URM
        self.n_users_, self.n_items_ = n_users, n_items
        self._fit(URM, **hyperparameters)
        release_freed_memory()
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fit(self, URM_train: sp.csr_matrix, **hyperparameters) -> None:
        raise NotImplementedError

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _checked_user_ids(self, user_ids) -> np.ndarray:
        """``user_ids`` as a flat int64 array; errors when unfitted or out of range."""
        if not hasattr(self, "URM_train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        user_ids = np.asarray(user_ids, dtype=np.int64).ravel()
        if user_ids.size and (user_ids.min() < 0 or user_ids.max() >= self.n_users_):
            raise IndexError(f"user ids must lie in [0, {self.n_users_})")
        return user_ids

    def score(self, user_ids) -> np.ndarray:
        """Scores of every item for each user: float32 array ``len(user_ids) x n_items``."""
        user_ids = self._checked_user_ids(user_ids)
        scores = np.asarray(self._score(user_ids), dtype=np.float32)
        if scores.shape != (user_ids.size, self.n_items_):
            raise RuntimeError(
                f"{type(self).__name__}._score returned shape {scores.shape}, "
                f"expected {(user_ids.size, self.n_items_)}"
            )
        return scores

    def recommend(self, user_ids, cutoff: int, exclude_seen: bool = True) -> np.ndarray:
        """Top-``cutoff`` item ids per user, best first (ties: lower item id first).

        Returns an int32 array ``len(user_ids) x min(cutoff, n_items)``; where
        ``exclude_seen`` leaves fewer rankable items than columns, the row ends
        with ``-1``.
        """
        user_ids = self._checked_user_ids(user_ids)
        ranked = []
        for start in range(0, max(user_ids.size, 1), SCORE_BLOCK_USERS):
            block = user_ids[start : start + SCORE_BLOCK_USERS]
            exclude = self.URM_train_[block] if exclude_seen else None
            ranked.append(self._rank(block, cutoff, exclude))
        return np.vstack(ranked)

    def _rank(self, user_ids: np.ndarray, cutoff: int, exclude: sp.csr_matrix | None) -> np.ndarray:
        """``rank_top_k`` of the users' scores; models whose scores are a product override it
        to score and rank one user at a time (``rank_top_k_of_product``), with the same result."""
        return rank_top_k(self.score(user_ids), cutoff, exclude)
