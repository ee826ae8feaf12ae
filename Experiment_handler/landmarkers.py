"""The 308 landmarker meta-features: quick models measured on a small sample of the training matrix.

Procedure (the steps of the reference's ``Metafeatures/Landmarkers.py``), driven by one
``numpy.random.RandomState(seed)`` in this order of draws:

1. keep the users with at least 2 interactions; keep the items with at least one
   of theirs (if fewer than 6, add cold items drawn at random);
2. draw ``min(100, n_users)`` of those users without replacement; keep the items
   with interactions among them (again topped up to 6 when needed);
3. when more than 250 items remain: for each user draw 2 of its items, keep the
   union of those, and if it holds fewer than 250 items add items drawn from the
   others up to 250 (so each user keeps at least 2 interactions);
4. leave one random interaction per user out as its test item (the rest is training);
5. fit each landmark model on that training part and evaluate it with
   ``Experiment_handler.evaluator.Evaluator`` at cutoffs 1 and 5, every metric,
   **ranking seen items too** (``exclude_seen=False``, as the reference did), with
   the dataset's NDCG gain (binary for counts, see ``Experiment_handler.metrics``).

Models: ``top_pop`` (TopPop), ``item_knn_k{1,5}`` / ``user_knn_k{1,5}`` (ItemKNNCF /
UserKNNCF, cosine, shrink 100, normalised, ``topK`` 1 or 5), ``pure_svd_fact{1,5}``
(PureSVD with 1 or 5 factors, seeded). Names:
``f_landmarker__alg_<model>__cut_<k>__<METRIC>`` (7 x 2 x 22 = 308).

Where this departs from the reference, and why the result is a function of the
matrix and ``seed`` alone: the reference seeded NumPy's *global* random state, so
PureSVD's randomized SVD continued that shared stream; it drew the held-out
interaction by shuffling each row in scipy's storage order (whether a column slice
keeps a row's indices sorted changed between scipy versions), iterated sets of item
indices in Python's set order, and broke ranking ties arbitrarily. Here one
``RandomState(seed)`` drives steps 1-4 on canonical CSR rows (item indices sorted),
sets of items are taken in increasing order, each model gets ``seed`` for its own
randomness (PureSVD: ``randomized_svd(random_state=seed)``), and ranking ties go to
the lower item index. The reference's retry loop around the sampling is left out:
every sampled user keeps at least 2 interactions, so the training part is never empty.
"""

import numpy as np
import scipy.sparse as sp

from Experiment_handler.evaluator import Evaluator
from Experiment_handler.metrics import METRICS
from Recommenders.base import as_csr_float32
from Recommenders.knn import ItemKNNCF, UserKNNCF
from Recommenders.non_personalized import TopPop
from Recommenders.pure_svd import PureSVDRecommender

LANDMARKER_SEED = 42
LANDMARKER_CUTOFFS = (1, 5)
N_USERS_SUBSAMPLE = 100
N_ITEMS_SUBSAMPLE = 250
MIN_ITEMS_PER_USER = 2
#: One more item than the largest cutoff, so that every cutoff can be filled.
MIN_ITEMS = max(LANDMARKER_CUTOFFS) + 1

_KNN = {"topK": None, "shrink": 100, "similarity": "cosine", "normalize": True, "feature_weighting": "none"}
#: Landmark models in the reference's order: name -> (class, fit hyperparameters).
LANDMARK_MODELS = {
    "top_pop": (TopPop, {}),
    "item_knn_k1": (ItemKNNCF, {**_KNN, "topK": 1}),
    "user_knn_k1": (UserKNNCF, {**_KNN, "topK": 1}),
    "pure_svd_fact1": (PureSVDRecommender, {"num_factors": 1}),
    "item_knn_k5": (ItemKNNCF, {**_KNN, "topK": 5}),
    "user_knn_k5": (UserKNNCF, {**_KNN, "topK": 5}),
    "pure_svd_fact5": (PureSVDRecommender, {"num_factors": 5}),
}


def landmarker_feature_name(model: str, cutoff: int, metric: str) -> str:
    """The reference's name of one landmarker feature."""
    return f"f_landmarker__alg_{model}__cut_{cutoff}__{metric}"


def landmarker_feature_names() -> list[str]:
    """The 308 names: per model (reference order), per cutoff, per metric."""
    return [
        landmarker_feature_name(model, cutoff, metric)
        for model in LANDMARK_MODELS
        for cutoff in LANDMARKER_CUTOFFS
        for metric in METRICS
    ]


def _keep_warm_items(URM: sp.csr_matrix, rng: np.random.RandomState) -> sp.csr_matrix:
    """Columns with interactions, topped up to ``MIN_ITEMS`` with randomly drawn cold ones."""
    warm = np.bincount(URM.indices, minlength=URM.shape[1]) > 0
    items = np.flatnonzero(warm)
    if items.size < MIN_ITEMS:
        cold = np.flatnonzero(~warm)
        items = np.concatenate([items, rng.choice(cold, size=MIN_ITEMS - items.size, replace=False)])
    return as_csr_float32(URM[:, items])


def _select_items(URM: sp.csr_matrix, rng: np.random.RandomState) -> sp.csr_matrix:
    """``MIN_ITEMS_PER_USER`` random items of each user, topped up with other items to ``N_ITEMS_SUBSAMPLE``."""
    chosen = set()
    for user in range(URM.shape[0]):
        profile = URM.indices[URM.indptr[user] : URM.indptr[user + 1]]
        chosen.update(rng.choice(profile, size=MIN_ITEMS_PER_USER, replace=False).tolist())
    items = sorted(chosen)
    if len(items) < N_ITEMS_SUBSAMPLE:
        others = sorted(set(range(URM.shape[1])) - chosen)
        items += rng.choice(others, size=N_ITEMS_SUBSAMPLE - len(items), replace=False).tolist()
    return as_csr_float32(URM[:, items])


def _leave_one_out(URM: sp.csr_matrix, rng: np.random.RandomState) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per user, one random interaction to the test matrix and the others to the training one."""
    test_positions = []
    for user in range(URM.shape[0]):
        order = np.arange(URM.indptr[user + 1] - URM.indptr[user])
        rng.shuffle(order)
        test_positions.append(URM.indptr[user] + order[0])
    in_test = np.zeros(URM.nnz, dtype=bool)
    in_test[test_positions] = True
    rows = np.repeat(np.arange(URM.shape[0]), np.diff(URM.indptr))
    train, test = (sp.csr_matrix((URM.data[mask], (rows[mask], URM.indices[mask])), shape=URM.shape)
                   for mask in (~in_test, in_test))
    return train, test


def landmark_sample(URM_train: sp.csr_matrix, seed: int = LANDMARKER_SEED) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The seeded ``(train, test)`` sample the landmark models are measured on (steps 1-4)."""
    URM = as_csr_float32(URM_train)
    if URM.shape[1] < MIN_ITEMS:
        raise ValueError(f"landmarkers need at least {MIN_ITEMS} items, the training matrix has {URM.shape[1]}")
    users = np.flatnonzero(np.diff(URM.indptr) >= MIN_ITEMS_PER_USER)
    if users.size == 0:
        raise ValueError(f"landmarkers need a user with at least {MIN_ITEMS_PER_USER} training interactions")
    rng = np.random.RandomState(seed)
    candidates = _keep_warm_items(URM[users], rng)
    sample = candidates[rng.choice(candidates.shape[0], size=min(candidates.shape[0], N_USERS_SUBSAMPLE),
                                   replace=False)]
    sample = _keep_warm_items(sample, rng)
    if sample.shape[1] > N_ITEMS_SUBSAMPLE:
        sample = _select_items(sample, rng)
    return _leave_one_out(sample, rng)


def landmarker_features(URM_train: sp.csr_matrix, seed: int = LANDMARKER_SEED,
                        ndcg_gain: str = "exponential") -> dict[str, float]:
    """All 308 landmarker features of a training matrix, for ``seed`` and NDCG gain ``ndcg_gain``."""
    train, test = landmark_sample(URM_train, seed)
    evaluator = Evaluator(test, cutoffs=list(LANDMARKER_CUTOFFS), exclude_seen=False, ndcg_gain=ndcg_gain)
    features = {}
    for model, (recommender_class, hyperparameters) in LANDMARK_MODELS.items():
        result = evaluator.evaluate(recommender_class(seed=seed).fit(train, **hyperparameters))
        for cutoff in LANDMARKER_CUTOFFS:
            for metric in METRICS:
                features[landmarker_feature_name(model, cutoff, metric)] = float(result[cutoff][metric])
    return features
