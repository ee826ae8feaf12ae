"""PureSVD and NMF against independent numpy computations on tiny data."""

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.hyperparameter_space import Categorical, Integer
from Recommenders.nmf import NMFRecommender
from Recommenders.pure_svd import PureSVDRecommender
from Recommenders.registry import get_algorithm
from tests.test_similarity import random_matrix


@pytest.mark.parametrize("num_factors", [1, 4, 9])
def test_pure_svd_scores_are_the_rank_k_approximation(num_factors):
    X = random_matrix("empty", seed=41)
    D = X.toarray().astype(np.float64)
    U, s, VT = np.linalg.svd(D, full_matrices=False)
    best = (U[:, :num_factors] * s[:num_factors]) @ VT[:num_factors]
    model = PureSVDRecommender().fit(X, num_factors=num_factors)
    users = np.array([0, 5, 29])
    np.testing.assert_allclose(model.score(users), best[users], atol=1e-3 * np.abs(best).max())


def test_pure_svd_caps_the_factors_at_the_matrix_rank():
    X = random_matrix("dense", seed=42)  # 12 x 9
    model = PureSVDRecommender().fit(X, num_factors=350)
    assert model.item_factors_.shape == (9, 9)
    np.testing.assert_allclose(model.score(np.arange(12)), X.toarray(), atol=1e-4)


@pytest.mark.parametrize("solver,beta_loss,init_type", [
    ("multiplicative_update", "frobenius", "random"), ("multiplicative_update", "kullback-leibler", "nndsvda"),
    ("coordinate_descent", "frobenius", "nndsvda"), ("coordinate_descent", "frobenius", "random"),
])
def test_nmf_recovers_an_exact_non_negative_rank_two_matrix(solver, beta_loss, init_type):
    rng = np.random.default_rng(43)
    D = rng.uniform(0.2, 1.0, (25, 2)) @ rng.uniform(0.2, 1.0, (2, 15))
    model = NMFRecommender().fit(sp.csr_matrix(D), num_factors=2, solver=solver, init_type=init_type,
                                 beta_loss=beta_loss)
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    scores = model.score(np.arange(25))
    # Over the whole matrix within 1% (each case reaches <= 0.45% with scikit-learn 1.9); single entries
    # within 3% of the largest value: scikit-learn 1.9's multiplicative KL updates stop at their tolerance
    # with one entry 2.4% off (earlier releases: under 2%).
    assert np.linalg.norm(scores - D) <= 0.01 * np.linalg.norm(D)
    np.testing.assert_allclose(scores, D, atol=0.03 * D.max())


def test_nmf_scores_are_the_factor_products():
    X = random_matrix("ratings", seed=44)
    model = NMFRecommender(seed=1).fit(X, num_factors=3, solver="multiplicative_update")
    users = np.array([2, 7])
    np.testing.assert_allclose(model.score(users), model.user_factors_[users] @ model.item_factors_.T, rtol=1e-6)
    again = NMFRecommender(seed=1).fit(X, num_factors=3, solver="multiplicative_update")
    np.testing.assert_array_equal(again.item_factors_, model.item_factors_)


@pytest.mark.parametrize("params,message", [
    ({"solver": "coordinate_descent", "beta_loss": "kullback-leibler"}, "cannot minimise"),
    ({"init_type": "nndsvda", "num_factors": 50}, "nndsvda needs num_factors <= min"),
    ({"solver": "als"}, "unknown solver"),
])
def test_nmf_refuses_what_scikit_learn_cannot_fit(params, message):
    with pytest.raises(ValueError, match=message):
        NMFRecommender().fit(random_matrix("continuous"), **params)


def test_registry_entries_follow_the_reference():
    svd = get_algorithm("PureSVDRecommender")
    assert svd.space.dimensions == {"num_factors": Integer(1, 350)} and svd.space.default == {"num_factors": 10}
    assert svd.max_points == 300 and svd.fit_args == {}
    nmf = get_algorithm("NMFRecommender")
    assert nmf.space.dimensions == {
        "num_factors": Integer(1, 350),
        "solver": Categorical(("coordinate_descent", "multiplicative_update")),
        "init_type": Categorical(("random", "nndsvda")),
        "beta_loss": Categorical(("frobenius", "kullback-leibler")),
    }
    assert nmf.space.default == {"num_factors": 10, "solver": "coordinate_descent", "init_type": "random",
                                 "beta_loss": "frobenius"}
    assert nmf.max_points == 2800 and nmf.fit_args == {}
