"""Every registered algorithm's memory estimate is an upper bound of its measured peak.

For each algorithm of the registry, at the configuration of its space with the largest
estimate, on a mid-size random split, ``benchmarks/memory_peak.py`` (one child process)
measures the resident-set rise of the fit and of the evaluation on validation and test.
"""

import json

import pytest

from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.registry import ALGORITHMS
from tests.conftest import run_module

SHAPE = (1000, 500, 20_000)  # users, items, interactions (80% of them train)
#: Measurement noise allowed above the estimate: page and allocator granularity.
SLACK_BYTES = 1 << 20


@pytest.fixture(scope="module")
def measurements() -> dict:
    result = run_module("benchmarks.memory_peak", "all", *SHAPE, env={"RECZILLA_THREADS": "2"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["algorithm"]: row for row in rows}


def test_every_registered_algorithm_is_measured(measurements):
    assert list(measurements) == list(ALGORITHMS)
    for name, row in measurements.items():
        if "skipped" in row:  # only an optional dependency that is not installed
            assert row["skipped"].startswith(("ImportError", "ModuleNotFoundError")), (name, row)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_estimate_is_an_upper_bound_of_the_measured_peak(measurements, name):
    row = measurements[name]
    if "skipped" in row:
        pytest.skip(f"{name}: optional dependency missing ({row['skipped']})")
    assert row["peak_bytes"] > 0
    assert row["estimate_bytes"] + SLACK_BYTES >= row["peak_bytes"], (
        f"{name} at {row['configuration']}: estimate {row['estimate_bytes'] / 2**20:.1f} MiB, "
        f"measured peak {row['peak_bytes'] / 2**20:.1f} MiB"
    )


class Model:
    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, size=1, kind="a", rate=0.5):
        return size * (2 if kind == "b" else 1) + int(rate)


def test_largest_estimate_configuration_searches_corners_and_categories():
    from benchmarks.memory_peak import largest_estimate_configuration

    class Spec:
        recommender_class = Model
        fit_args = {}
        space = HyperparameterSpace({"size": Integer(1, 300), "kind": Categorical(("a", "b")), "rate": Real(0.0, 7.0)},
                                    {"size": 3, "kind": "a", "rate": 0.5})

    configuration, estimate = largest_estimate_configuration(Spec, 10, 10, 10)
    assert configuration == {"size": 300, "kind": "b", "rate": 7.0}
    assert estimate == 607
