"""The algorithm registry: each reference RecZilla name -> ``AlgorithmSpec``.

Each model module lists its entries in ``ALGORITHM_SPECS``; this module gathers
them in ``ALGORITHMS``. To add a model family, add its module to ``_MODULES``.
"""

from Recommenders import non_personalized
from Recommenders.algorithm_spec import AlgorithmSpec

_MODULES = (non_personalized,)


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
