"""Matrix factorization trained by SGD: FunkSVD, AsySVD and BPR-MF (engine: ``Recommenders._mf_sgd``).

Score of item ``i`` for user ``u``: ``p_u . q_i`` (+ ``b_g + b_u + b_i`` with biases). Factors
start from ``N(init_mean, init_std_dev)`` (float64), biases from 0. Every epoch count comes
from the registry's fixed fit arguments. Randomness (initial factors, samples) comes from
``numpy.random.SeedSequence(seed)``, so a fit is reproducible from the recommender's seed.

Differences from the reference (``MatrixFactorization/Cython``), all deliberate:

- ``negative_interactions_quota`` is the share of sampled (user, non-interacted item,
  rating 0) pairs, as its name says; the reference drew a *positive* with that
  probability (its default 0.2 meant 80% negatives).
- FunkSVD regularises item factors with ``item_reg``; the reference used ``positive_reg``
  (0 for FunkSVD), so its ``item_reg`` had no effect.
- AsySVD's gradient for ``y_l`` carries the ``1 / sqrt(|I(u)|)`` factor of the user vector,
  and scoring builds ``z_u`` from the same unweighted profile sum that training used (the
  reference trained on the unweighted sum but scored with the rating-weighted one).
- Samples come from a seeded xoshiro256** stream, not the C library's ``rand()``; users are
  drawn uniformly among those with at least one and fewer than ``n_items`` interactions,
  as in the reference.
"""

import time

import numpy as np
import scipy.sparse as sp

from Recommenders._mf_sgd import MatrixFactorizationSGD
from Recommenders._sgd_common import SGD_MODES, optimizer_state_arrays
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import SCORE_BLOCK_USERS
from Recommenders.bpr_positives import bpr_positives
from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.kernel_indices import kernel_csr_arrays
from Recommenders.latent_factors import LatentFactorRecommender

#: Reference defaults (``algorithm_handler.py``).
DEFAULT_NUM_FACTORS = 10
DEFAULT_ITEM_REG = 1e-4
DEFAULT_USER_REG = 1e-3
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_SGD_MODE = "sgd"
DEFAULT_EPOCHS = 100

#: Optimizer state arrays kept per parameter, by ``sgd_mode``.
STATE_COPIES = {"sgd": 0, "adagrad": 1, "adam": 2}


class _SGDMatrixFactorization(LatentFactorRecommender):
    """Shared fit loop and scoring; subclasses name the engine ``MODEL`` and map their hyperparameters."""

    MODEL = ""
    #: Rows of ``P``: users (FunkSVD, BPR) or items (AsySVD's ``y_l``).
    P_ROWS_ARE_ITEMS = False

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        """Base estimate + the float64 factors + the larger of what training adds (optimizer
        state, a batch, the kernels' copies of the interactions: 16 bytes each) and what
        scoring adds (one float64 block of scores, two with biases: their sum is a temporary)."""
        hyperparameters = cls.with_defaults(hyperparameters)
        factors = hyperparameters["num_factors"]
        p_rows = n_items if cls.P_ROWS_ARE_ITEMS else n_users
        parameters = (p_rows + n_items) * (factors + 1) * 8
        # AsySVD: the users' vectors from their profiles, in float64 twice (the product, then scaled) and float32
        user_vectors = n_users * factors * 20 if cls.P_ROWS_ARE_ITEMS else 0
        state = parameters * STATE_COPIES.get(hyperparameters["sgd_mode"], 2)
        training = state + 3 * hyperparameters["batch_size"] * (factors + 1) * 8 + n_interactions * 16
        scoring = SCORE_BLOCK_USERS * n_items * 8 * (2 if hyperparameters.get("use_bias") else 1)  # BPR: no biases
        base = super().estimate_memory_bytes(n_users, n_items, n_interactions)
        return base + parameters + user_vectors + max(training, scoring)

    def _train(self, URM_train: sp.csr_matrix, *, epochs, num_factors, sgd_mode, init_mean, init_std_dev,
               use_bias, **engine_arguments) -> None:
        if epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {epochs}")
        if num_factors < 1:
            raise ValueError(f"num_factors must be a positive integer, got {num_factors}")
        if sgd_mode not in SGD_MODES:
            raise ValueError(f"sgd_mode must be one of {SGD_MODES}, got {sgd_mode!r}")
        init_seed, sample_seed = np.random.SeedSequence(self.seed).spawn(2)
        rng = np.random.default_rng(init_seed)
        n_users, n_items = URM_train.shape
        p_rows = n_items if self.P_ROWS_ARE_ITEMS else n_users
        P = rng.normal(init_mean, init_std_dev, (p_rows, num_factors))
        Q = rng.normal(init_mean, init_std_dev, (n_items, num_factors))
        user_bias, item_bias, global_bias = np.zeros(n_users), np.zeros(n_items), np.zeros(1)
        parameters = {"P": P, "Q": Q, "user_bias": user_bias, "item_bias": item_bias, "global_bias": global_bias}
        state = {name: optimizer_state_arrays(sgd_mode, array.shape) for name, array in parameters.items()}
        engine = MatrixFactorizationSGD(
            self.MODEL,
            *kernel_csr_arrays(URM_train),
            URM_train.data.astype(np.float32),
            P, Q, user_bias, item_bias, global_bias, state,
            sgd_mode=sgd_mode, use_bias=use_bias, seed_sequence=sample_seed, **engine_arguments,
        )
        self.loss_history_, self.epoch_seconds_ = [], []
        for _ in range(epochs):
            start = time.perf_counter()
            self.loss_history_.append(engine.run_epoch())
            self.epoch_seconds_.append(time.perf_counter() - start)
        self.item_factors_ = Q
        self.user_factors_ = self._user_factors(URM_train, P)
        self.use_bias_ = use_bias
        self.user_bias_, self.item_bias_, self.global_bias_ = user_bias, item_bias, float(global_bias[0])

    def _user_factors(self, URM_train: sp.csr_matrix, P: np.ndarray) -> np.ndarray:
        return P

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        scores = super()._score(user_ids)
        if self.use_bias_:
            scores += self.global_bias_ + self.user_bias_[user_ids, None] + self.item_bias_[None, :]
        return scores


class _SquaredErrorFactorization(_SGDMatrixFactorization):
    """The fit shared by FunkSVD and AsySVD."""

    def _fit(self, URM_train, *, epochs, batch_size, num_factors, learning_rate, use_bias, sgd_mode,
             negative_interactions_quota, user_reg, item_reg, init_mean=0.0, init_std_dev=0.1, bias_reg=0.0):
        self._train(URM_train, epochs=epochs, num_factors=num_factors, sgd_mode=sgd_mode, init_mean=init_mean,
                    init_std_dev=init_std_dev, use_bias=use_bias, learning_rate=learning_rate, batch_size=batch_size,
                    negative_quota=negative_interactions_quota, user_reg=user_reg, item_reg=item_reg,
                    bias_reg=bias_reg, positive_reg=0.0, negative_reg=0.0)


class MatrixFactorization_FunkSVD_Cython(_SquaredErrorFactorization):
    """FunkSVD: minimises ``sum (r_ui - b_g - b_u - b_i - p_u . q_i)^2 / 2`` plus L2 terms
    (``user_reg``, ``item_reg``, ``bias_reg``) by mini-batch SGD over sampled (user, item)
    pairs, a share ``negative_interactions_quota`` of them non-interacted items with
    rating 0. One epoch: ``nnz // batch_size + 1`` mini-batches."""

    MODEL = "FunkSVD"


class MatrixFactorization_AsySVD_Cython(_SquaredErrorFactorization):
    """Asymmetric SVD (Koren, 2008): a user is ``z_u = sum_{l in I(u)} y_l / sqrt(|I(u)|)``;
    minimises ``sum (r_ui - b_g - b_u - b_i - z_u . q_i)^2 / 2`` plus L2 terms (``user_reg`` on
    ``y``, ``item_reg`` on ``q``, ``bias_reg``) by per-sample SGD (``batch_size`` must be 1). One
    epoch: ``nnz + 1`` samples, a share ``negative_interactions_quota`` of them negatives."""

    MODEL = "AsySVD"
    P_ROWS_ARE_ITEMS = True

    def _user_factors(self, URM_train: sp.csr_matrix, P: np.ndarray) -> np.ndarray:
        """``z_u`` for every user from the unweighted training profile (0 for users without one)."""
        profile = sp.csr_matrix((np.ones_like(URM_train.data, dtype=np.float64), URM_train.indices,
                                 URM_train.indptr), shape=URM_train.shape)
        lengths = np.diff(URM_train.indptr)
        return (profile @ P) / np.sqrt(np.maximum(lengths, 1))[:, None]


class MatrixFactorization_BPR_Cython(_SGDMatrixFactorization):
    """BPR-MF (Rendle et al., 2009): maximises ``sum log sigmoid(p_u . (q_i - q_j))`` minus L2 terms
    (``user_reg``, ``positive_reg`` on ``q_i``, ``negative_reg`` on ``q_j``) over sampled triples
    (user, interacted item ``i``, non-interacted item ``j``) by mini-batch SGD, without biases.
    Items with a rating below ``positive_threshold_BPR`` (when given) are not positives. One
    epoch: ``n_users // batch_size + 1`` mini-batches, as in the reference."""

    MODEL = "BPR"

    def _fit(self, URM_train, *, epochs, batch_size, num_factors, positive_threshold_BPR, learning_rate, sgd_mode,
             positive_reg, negative_reg, init_mean=0.0, init_std_dev=0.1, user_reg=0.0):
        positives = bpr_positives(URM_train, positive_threshold_BPR)
        self._train(positives, epochs=epochs, num_factors=num_factors, sgd_mode=sgd_mode, init_mean=init_mean,
                    init_std_dev=init_std_dev, use_bias=False, learning_rate=learning_rate, batch_size=batch_size,
                    negative_quota=0.0, user_reg=user_reg, item_reg=0.0, bias_reg=0.0, positive_reg=positive_reg,
                    negative_reg=negative_reg)


_BATCH_SIZES = Categorical([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
_REG = Real(1e-5, 1e-2, prior="log-uniform")
_LEARNING_RATE = Real(1e-4, 1e-1, prior="log-uniform")
_FACTORS = Integer(1, 200)
_SGD_MODE = Categorical(list(SGD_MODES))


def _squared_error_space(search_batch_size: bool, default_user_reg: float) -> HyperparameterSpace:
    """The space FunkSVD and AsySVD share; FunkSVD also searches ``batch_size`` (AsySVD is per-sample)."""
    dimensions = {
        "sgd_mode": _SGD_MODE,
        "use_bias": Categorical([True, False]),
        "batch_size": _BATCH_SIZES,
        "num_factors": _FACTORS,
        "item_reg": _REG,
        "user_reg": _REG,
        "learning_rate": _LEARNING_RATE,
        "negative_interactions_quota": Real(0.0, 0.5),
    }
    default = {
        "sgd_mode": DEFAULT_SGD_MODE,
        "use_bias": True,
        "batch_size": 32,
        "num_factors": DEFAULT_NUM_FACTORS,
        "item_reg": DEFAULT_ITEM_REG,
        "user_reg": default_user_reg,
        "learning_rate": DEFAULT_LEARNING_RATE,
        "negative_interactions_quota": 0.2,
    }
    if not search_batch_size:
        del dimensions["batch_size"], default["batch_size"]
    return HyperparameterSpace(dimensions, default)


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "MatrixFactorization_FunkSVD_Cython",
        MatrixFactorization_FunkSVD_Cython,
        # user_reg: the reference's default (its item value), kept
        _squared_error_space(search_batch_size=True, default_user_reg=DEFAULT_ITEM_REG),
        fit_args={"epochs": 500},
    ),
    AlgorithmSpec(
        "MatrixFactorization_AsySVD_Cython",
        MatrixFactorization_AsySVD_Cython,
        _squared_error_space(search_batch_size=False, default_user_reg=DEFAULT_USER_REG),
        fit_args={"epochs": DEFAULT_EPOCHS, "batch_size": 1},
    ),
    AlgorithmSpec(
        "MatrixFactorization_BPR_Cython",
        MatrixFactorization_BPR_Cython,
        HyperparameterSpace(
            {
                "sgd_mode": _SGD_MODE,
                "num_factors": _FACTORS,
                "batch_size": _BATCH_SIZES,
                "positive_reg": _REG,
                "negative_reg": _REG,
                "learning_rate": _LEARNING_RATE,
            },
            {
                "sgd_mode": DEFAULT_SGD_MODE,
                "num_factors": DEFAULT_NUM_FACTORS,
                "batch_size": 32,
                "positive_reg": 1e-3,
                "negative_reg": 1e-3,
                "learning_rate": DEFAULT_LEARNING_RATE,
            },
        ),
        fit_args={"epochs": DEFAULT_EPOCHS, "positive_threshold_BPR": None},
    ),
]
