"""The algorithm registry: each reference RecZilla name -> ``AlgorithmSpec``.

Each model module lists its entries in ``ALGORITHM_SPECS``; this module gathers
them in ``ALGORITHMS``, in the order of the reference's algorithm list. To add a
model family, add its module to ``_MODULES``.
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


def get_algorithm(name: str) -> AlgorithmSpec:
    """The spec of ``name``; ``UnknownAlgorithm`` lists the valid names otherwise."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown algorithm {name!r}; valid names: {', '.join(ALGORITHMS)}") from None
