"""A test-only algorithm whose fit sleeps, registered by ``run_with_slow_algorithm``.

Run as ``python -m tests.slow_algorithm ARGS...``: it adds ``SlowTopPop`` to the
registry of this process and then runs the real ``run_experiment`` command line.
"""

import sys
import time

from Data_manager.cli_errors import run_cli
from Experiment_handler import run_experiment
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import HyperparameterSpace, Real
from Recommenders.non_personalized import TopPop
from Recommenders.registry import ALGORITHMS


class SlowTopPop(TopPop):
    """TopPop whose fit takes ``delay`` seconds."""

    def _fit(self, URM_train, delay: float) -> None:
        time.sleep(delay)
        super()._fit(URM_train)


ALGORITHMS["SlowTopPop"] = AlgorithmSpec(
    "SlowTopPop", SlowTopPop, HyperparameterSpace({"delay": Real(0.4, 0.6)}, {"delay": 0.5})
)

if __name__ == "__main__":
    sys.exit(run_cli(run_experiment.main))
