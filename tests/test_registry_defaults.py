"""One source of defaults: a bare ``fit`` is the registry's default configuration, the search's sample 0."""

import inspect
from collections import defaultdict

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders.registry import ALGORITHMS

URM = sp.random(40, 30, density=0.25, format="csr", random_state=np.random.default_rng(5), dtype=np.float32,
                data_rvs=lambda n: np.random.default_rng(6).integers(1, 6, n).astype(np.float32))


def _entries_by_class() -> dict[type, list]:
    entries = defaultdict(list)
    for spec in ALGORITHMS.values():
        entries[spec.recommender_class].append(spec)
    return entries


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_fit_without_hyperparameters_is_the_registry_default(name):
    spec = ALGORITHMS[name]
    cls = spec.recommender_class
    # a class behind several entries is told which one (its variant argument) and nothing else
    variant = {} if cls.VARIANT_ARGUMENT is None else {cls.VARIANT_ARGUMENT[0]: spec.fit_args[cls.VARIANT_ARGUMENT[0]]}
    assert spec.sample_hyperparameters(1, param_seed=3) == [("default", spec.space.default)]
    few_epochs = {"epochs": 2} if spec.extra == "neural" else {}  # the other defaults still come from the registry
    bare = cls(seed=4).fit(URM, **variant, **few_epochs)
    searched = cls(seed=4).fit(URM, **{**spec.fit_args, **spec.space.default, **few_epochs})
    users = np.arange(URM.shape[0])
    np.testing.assert_array_equal(bare.score(users), searched.score(users))


@pytest.mark.parametrize("cls", list(_entries_by_class()), ids=lambda cls: cls.__name__)
def test_fit_declares_no_default_the_registry_holds(cls):
    named = {argument for spec in _entries_by_class()[cls] for argument in (*spec.fit_args, *spec.space.default)}
    parameters = inspect.signature(cls._fit).parameters
    doubled = sorted(name for name in named & set(parameters) if parameters[name].default is not inspect.Parameter.empty)
    assert not doubled, f"{cls.__name__}._fit has defaults for {doubled}, which the registry already defines"


@pytest.mark.parametrize("cls", list(_entries_by_class()), ids=lambda cls: cls.__name__)
def test_entries_of_one_class_agree_on_each_default(cls):
    variant = cls.VARIANT_ARGUMENT[0] if cls.VARIANT_ARGUMENT else None
    seen = {}
    for spec in _entries_by_class()[cls]:
        for argument, value in spec.default_fit_arguments().items():
            if argument != variant:
                assert seen.setdefault(argument, (value, spec.name))[0] == value, (
                    f"{argument}: {spec.name} says {value!r}, {seen[argument][1]} says {seen[argument][0]!r}")


def test_the_variant_argument_picks_its_entry_and_defaults_to_one():
    from Recommenders.knn import ItemKNNCF

    assert ItemKNNCF.default_hyperparameters()["similarity"] == "cosine"
    assert ItemKNNCF.default_hyperparameters({"similarity": "tversky"})["similarity"] == "tversky"
    assert ItemKNNCF.default_hyperparameters()["topK"] == ALGORITHMS["ItemKNNCF_cosine"].space.default["topK"]


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_memory_estimate_without_hyperparameters_is_the_registry_defaults_one(name):
    spec = ALGORITHMS[name]
    cls = spec.recommender_class
    variant = {} if cls.VARIANT_ARGUMENT is None else {cls.VARIANT_ARGUMENT[0]: spec.fit_args[cls.VARIANT_ARGUMENT[0]]}
    shape = (5_000, 2_000, 100_000)
    assert cls.estimate_memory_bytes(*shape, **variant) == cls.estimate_memory_bytes(
        *shape, **spec.fit_args, **spec.space.default)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_memory_estimate_has_no_defaults_of_its_own(name):
    """Its hyperparameters come through ``with_defaults``, never from keyword defaults of its signature."""
    parameters = inspect.signature(ALGORITHMS[name].recommender_class.estimate_memory_bytes).parameters
    assert list(parameters) == ["n_users", "n_items", "n_interactions", "hyperparameters"]
