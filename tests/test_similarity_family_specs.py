"""Registry spaces of the neighbourhood, graph, linear and factorisation models: samples stay in
bounds and fit; each model runs end to end through ``run_experiment`` on SyntheticSmall."""

import numpy as np
import pytest

from Data_manager.synthetic import SyntheticConfig, generate_synthetic
from Experiment_handler.result_zip import read_result_metadata
from Recommenders import ease_r, graph, knn, nmf, pure_svd, slim_elastic_net
from Recommenders.registry import get_algorithm
from tests.conftest import run_module
from tests.test_run_experiment import check_contract, experiment_args

MODULES = (knn, graph, ease_r, slim_elastic_net, pure_svd, nmf)
NAMES = [spec.name for module in MODULES for spec in module.ALGORITHM_SPECS]


def nmf_cannot_fit(config: dict, n_users: int, n_items: int) -> bool:
    """The two corners of the reference's NMF space that scikit-learn refuses (see Recommenders.nmf)."""
    return (config["solver"] == "coordinate_descent" and config["beta_loss"] == "kullback-leibler") or (
        config["init_type"] == "nndsvda" and config["num_factors"] > min(n_users, n_items))


@pytest.fixture(scope="module")
def tiny_urm():
    return generate_synthetic("tiny", SyntheticConfig(n_users=40, n_items=30, n_interactions=300, seed=5)).URM_all


def test_the_eighteen_models_are_registered():
    assert len(NAMES) == 18 and len(set(NAMES)) == 18
    assert {"ItemKNNCF_cosine", "UserKNNCF_euclidean", "P3alphaRecommender", "RP3betaRecommender", "EASE_R_Recommender",
            "SLIMElasticNetRecommender", "PureSVDRecommender", "NMFRecommender"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_space_samples_stay_in_bounds_and_fit(name, tiny_urm):
    spec = get_algorithm(name)
    samples = spec.sample_hyperparameters(5, param_seed=3)
    assert samples[0] == ("default", spec.space.default) and len(samples) == 5
    for _, config in samples:
        assert set(config) == set(spec.space.dimensions)
        assert all(spec.space.dimensions[key].contains(value) for key, value in config.items()), config
        model = spec.recommender_class(seed=1)
        if name == "NMFRecommender" and nmf_cannot_fit(config, *tiny_urm.shape):
            with pytest.raises(ValueError, match="NMF: "):
                model.fit(tiny_urm, **spec.fit_args, **config)
            continue
        model.fit(tiny_urm, **spec.fit_args, **config)
        scores = model.score(np.arange(tiny_urm.shape[0]))
        assert scores.shape == tiny_urm.shape and np.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_end_to_end_through_run_experiment(name, small_split, tmp_path):
    arguments = experiment_args(small_split, tmp_path, alg=name, samples=2)
    result = run_module("Experiment_handler.run_experiment", *arguments)
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    check_contract(metadata)
    assert metadata["status"] == "complete"
    assert [s["hyperparameters_source"] for s in metadata["samples"]] == ["default", "random_0"]
    for sample in metadata["samples"]:
        if name == "NMFRecommender" and sample["exception"] is not None:
            assert nmf_cannot_fit(sample["hyperparameters"], 300, 200), sample["exception"]
            continue
        assert sample["exception"] is None, sample["exception"]
        assert 0 <= sample["result_on_test"]["10"]["NDCG"] <= 1
