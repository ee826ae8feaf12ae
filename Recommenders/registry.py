"""The algorithm registry: each reference RecZilla name -> ``AlgorithmSpec``.

Each model module lists its entries in ``ALGORITHM_SPECS``; this module gathers
them in ``ALGORITHMS``, in the order of the reference's algorithm list. To add a
model family, add its module to ``_MODULES``. ``registry_defaults`` gives a model
class the defaults of its entries, so that ``fit`` without hyperparameters fits the
search's first (default) configuration.
"""

from Recommenders import (
    co_clustering,
    ease_r,
    graph,
    ials,
    knn,
    matrix_factorization,
    nmf,
    non_personalized,
    pure_svd,
    slim_bpr,
    slim_elastic_net,
    slope_one,
)
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.neural import algorithms as neural

#: In the order of the reference's ``ALGORITHM_NAME_LIST``.
_MODULES = (
    knn,
    non_personalized,
    graph,
    matrix_factorization,
    ials,
    pure_svd,
    nmf,
    slim_bpr,
    slim_elastic_net,
    ease_r,
    neural,
    co_clustering,
    slope_one,
)


class UnknownAlgorithm(KeyError):
    """An algorithm name the registry does not know."""

    def __str__(self):
        return self.args[0]


def _gather(modules) -> dict[str, AlgorithmSpec]:
    specs = {}
    for module in modules:
        for spec in module.ALGORITHM_SPECS:
            if spec.name in specs:
                raise RuntimeError(f"algorithm {spec.name} is registered twice")
            specs[spec.name] = spec
    return specs


ALGORITHMS: dict[str, AlgorithmSpec] = _gather(_MODULES)


def algorithms_without_extras() -> list[str]:
    """The algorithms that need no optional dependency (what ``make demo`` runs)."""
    return [name for name, spec in ALGORITHMS.items() if spec.extra is None]


def get_algorithm(name: str) -> AlgorithmSpec:
    """The spec of ``name``; ``UnknownAlgorithm`` lists the valid names otherwise."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown algorithm {name!r}; valid names: {', '.join(ALGORITHMS)}") from None


def registry_defaults(recommender_class: type, given: dict) -> dict:
    """The default of every fit argument the registry names for ``recommender_class``.

    They are the fixed arguments and space defaults of the class's entries. Where several
    entries share the class (one per similarity, say), the entry of the variant ``given``
    asks for (``VARIANT_ARGUMENT``; its default variant otherwise) wins; the others only
    add the arguments it does not name (their shared defaults agree: a test checks).
    """
    entries = [spec for spec in ALGORITHMS.values() if spec.recommender_class is recommender_class]
    if recommender_class.VARIANT_ARGUMENT is not None:
        name, default_variant = recommender_class.VARIANT_ARGUMENT
        variant = given.get(name, default_variant)
        entries.sort(key=lambda spec: spec.fit_args.get(name) == variant)  # the chosen entry last, so it wins
    defaults = {}
    for spec in entries:
        defaults.update(spec.default_fit_arguments())
    return defaults
