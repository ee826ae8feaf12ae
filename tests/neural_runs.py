"""Runs ``run_experiment`` with the neural models adjusted for tests (a fresh process each).

    python -m tests.neural_runs quick EPOCHS ARGS...   # at most EPOCHS epochs, in fewer, larger batches
    python -m tests.neural_runs endless EPOCHS ARGS... # the same, without early stopping
    python -m tests.neural_runs without-torch ARGS...  # as if PyTorch were not installed
"""

import dataclasses
import sys

from Data_manager.cli_errors import run_cli
from Experiment_handler import run_experiment
from Recommenders.registry import ALGORITHMS

#: Batch sizes that make an epoch a few steps on SyntheticSmall (DELF's is its number of batches).
QUICK_BATCH_SIZES = {"INeuRec_RecommenderWrapper": 4096, "UNeuRec_RecommenderWrapper": 4096,
                     "DELF_MLP_RecommenderWrapper": 4, "DELF_EF_RecommenderWrapper": 4, "MFBPR_Wrapper": 512}

if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode in ("quick", "endless"):
        import torch  # noqa: F401  (imported once here, inherited by the forked search; no kernel runs)

        if mode == "endless":  # no number of validations without improvement stops a training
            from Recommenders.neural import training

            training.LOWER_VALIDATIONS_ALLOWED = sys.maxsize

        epochs, args = int(args[0]), args[1:]
        for name, spec in list(ALGORITHMS.items()):
            if spec.extra == "neural":
                batch_size = QUICK_BATCH_SIZES.get(name, spec.fit_args["batch_size"])
                ALGORITHMS[name] = dataclasses.replace(
                    spec, fit_args={**spec.fit_args, "epochs": epochs, "batch_size": batch_size})
    elif mode == "without-torch":
        sys.modules["torch"] = None  # ``import torch`` now raises ImportError
    else:
        sys.exit(f"unknown mode {mode!r}")
    sys.exit(run_cli(run_experiment.main, args, prog="run_experiment"))
