"""Hyperparameter spaces (Real / Integer / Categorical) and their Sobol sampling.

A search draws the default configuration first, then scrambled-Sobol points
(``scipy.stats.qmc.Sobol`` seeded by ``param_seed``) mapped onto each dimension.
Duplicate configurations are dropped, and the total never exceeds the number of
distinct configurations the space holds or the algorithm's ``max_points``.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

PRIORS = ("uniform", "log-uniform")
#: Sobol points drawn at most while looking for new distinct configurations.
MAX_SOBOL_DRAWS = 2**16


@dataclass(frozen=True)
class Real:
    """A float in ``[low, high]``; ``log-uniform`` spreads samples evenly in log space."""

    low: float
    high: float
    prior: str = "uniform"

    def __post_init__(self):
        _check_bounds(self.low, self.high, self.prior)

    def from_unit(self, u: float) -> float:
        return float(_scale(u, self.low, self.high, self.prior))

    def cardinality(self) -> float:
        return math.inf

    def contains(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Integer:
    """An integer in ``[low, high]`` (both included)."""

    low: int
    high: int
    prior: str = "uniform"

    def __post_init__(self):
        _check_bounds(self.low, self.high, self.prior)

    def from_unit(self, u: float) -> int:
        # widen by one so that every integer, ``high`` included, has an equal share
        value = math.floor(_scale(u, self.low, self.high + 1, self.prior))
        return int(min(max(value, self.low), self.high))

    def cardinality(self) -> float:
        return self.high - self.low + 1

    def contains(self, value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Categorical:
    """One of a fixed tuple of values (bools, numbers or strings), all equally likely."""

    categories: tuple

    def __post_init__(self):
        object.__setattr__(self, "categories", tuple(self.categories))
        if not self.categories:
            raise ValueError("Categorical needs at least one category")

    def from_unit(self, u: float) -> Any:
        index = min(int(u * len(self.categories)), len(self.categories) - 1)
        return self.categories[index]

    def cardinality(self) -> float:
        return len(self.categories)

    def contains(self, value) -> bool:
        return any(value == c and type(value) is type(c) for c in self.categories)


Dimension = Real | Integer | Categorical


def _check_bounds(low, high, prior):
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    if not low <= high:
        raise ValueError(f"low must not exceed high: {low} > {high}")
    if prior == "log-uniform" and low <= 0:
        raise ValueError(f"a log-uniform dimension needs low > 0, got {low}")


def _scale(u: float, low: float, high: float, prior: str) -> float:
    if prior == "log-uniform":
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return low + u * (high - low)


@dataclass(frozen=True)
class HyperparameterSpace:
    """Named dimensions plus the default configuration (which must lie inside them)."""

    dimensions: dict
    default: dict

    def __post_init__(self):
        if set(self.default) != set(self.dimensions):
            raise ValueError(
                f"default configuration names {sorted(self.default)} differ from the space's {sorted(self.dimensions)}"
            )
        for name, value in self.default.items():
            if not self.dimensions[name].contains(value):
                raise ValueError(f"default {name}={value!r} lies outside {self.dimensions[name]}")

    def cardinality(self) -> float:
        """Number of distinct configurations (``inf`` when a Real dimension exists)."""
        return math.prod(d.cardinality() for d in self.dimensions.values())

    def sample(self, n_samples: int, seed: int, max_points: int | None = None) -> list[tuple[str, dict]]:
        """``[(source, configuration)]``: ``("default", ...)`` first, then ``("random_0", ...)`` ...

        Returns ``min(n_samples, max_points, cardinality)`` distinct configurations.
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        limit = int(min(n_samples, self.cardinality(), max_points if max_points is not None else math.inf))
        samples = [("default", dict(self.default))]
        seen = {_key(self.default)}
        if len(samples) >= limit:
            return samples
        names = list(self.dimensions)
        sobol = qmc.Sobol(d=len(names), scramble=True, seed=seed)
        # Sobol balance needs power-of-2 totals: the first batch covers the request, later ones double it
        exponent = math.ceil(math.log2(max(limit, 2)))
        while len(samples) < limit and sobol.num_generated < MAX_SOBOL_DRAWS:
            batch = sobol.random_base2(m=exponent)
            exponent = int(math.log2(sobol.num_generated))
            for point in batch:
                config = {name: self.dimensions[name].from_unit(u) for name, u in zip(names, point)}
                key = _key(config)
                if key in seen:
                    continue
                seen.add(key)
                samples.append((f"random_{len(samples) - 1}", config))
                if len(samples) >= limit:
                    break
        return samples


def _key(config: dict) -> tuple:
    return tuple(sorted((name, type(value).__name__, value) for name, value in config.items()))
