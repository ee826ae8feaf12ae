import math

import numpy as np
import pytest

from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real

SPACE = HyperparameterSpace(
    {
        "topK": Integer(5, 1000),
        "reg": Real(1e-5, 1e-2, prior="log-uniform"),
        "alpha": Real(0.0, 2.0),
        "mode": Categorical(["sgd", "adagrad", "adam"]),
        "flag": Categorical([True, False]),
    },
    {"topK": 5, "reg": 1e-3, "alpha": 1.0, "mode": "sgd", "flag": True},
)


def test_default_first_then_named_random_samples():
    samples = SPACE.sample(6, seed=3)
    assert samples[0] == ("default", SPACE.default)
    assert [source for source, _ in samples[1:]] == [f"random_{i}" for i in range(5)]


def test_reproducible_for_a_seed_and_different_across_seeds():
    assert SPACE.sample(20, seed=7) == SPACE.sample(20, seed=7)
    assert SPACE.sample(20, seed=7) != SPACE.sample(20, seed=8)


def test_samples_inside_bounds_with_native_types():
    for _, config in SPACE.sample(200, seed=0):
        assert 5 <= config["topK"] <= 1000 and type(config["topK"]) is int
        assert 1e-5 <= config["reg"] <= 1e-2 and type(config["reg"]) is float
        assert 0.0 <= config["alpha"] <= 2.0
        assert config["mode"] in ("sgd", "adagrad", "adam")
        assert type(config["flag"]) is bool


def test_log_uniform_is_spread_evenly_in_log_space():
    values = np.array([c["reg"] for _, c in SPACE.sample(513, seed=1)[1:]])
    decades = np.floor(np.log10(values)).astype(int)
    counts = np.bincount(decades + 5, minlength=3)[:3]
    # three decades 1e-5..1e-2, each holds a third of the samples (a uniform prior would put 90% in the last)
    assert np.all(np.abs(counts / counts.sum() - 1 / 3) < 0.03), counts


def test_uniform_integer_covers_both_ends():
    space = HyperparameterSpace({"k": Integer(1, 4)}, {"k": 1})
    values = [c["k"] for _, c in space.sample(4, seed=0)]
    assert sorted(values) == [1, 2, 3, 4]


def test_every_category_reachable_and_duplicates_dropped():
    space = HyperparameterSpace({"mode": Categorical(["a", "b", "c"]), "flag": Categorical([True, False])},
                                {"mode": "a", "flag": True})
    samples = space.sample(100, seed=5)
    configs = [tuple(sorted(c.items())) for _, c in samples]
    assert len(configs) == len(set(configs)) == 6  # capped by the space's 6 distinct configurations


def test_capped_by_max_points():
    assert len(SPACE.sample(50, seed=0, max_points=7)) == 7
    empty = HyperparameterSpace({}, {})
    assert empty.sample(5, seed=0, max_points=1) == [("default", {})]


def test_cardinality():
    assert HyperparameterSpace({"k": Integer(1, 10), "c": Categorical([1, 2])}, {"k": 1, "c": 1}).cardinality() == 20
    assert math.isinf(SPACE.cardinality())


@pytest.mark.parametrize(
    "dimensions, default",
    [
        ({"k": Integer(1, 10)}, {"k": 11}),
        ({"k": Integer(1, 10)}, {}),
        ({"c": Categorical([True, False])}, {"c": 1}),
    ],
)
def test_bad_default_rejected(dimensions, default):
    with pytest.raises(ValueError):
        HyperparameterSpace(dimensions, default)


def test_bad_dimensions_rejected():
    with pytest.raises(ValueError):
        Real(0.0, 1.0, prior="log-uniform")
    with pytest.raises(ValueError):
        Integer(5, 1)
    with pytest.raises(ValueError):
        Categorical([])
