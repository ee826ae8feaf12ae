"""Measure one algorithm's peak memory of fit + evaluation against its estimate, in this process.

    python benchmarks/memory_peak.py ALG[,ALG...|all] N_USERS N_ITEMS N_INTERACTIONS [--seed S] [--cold] [--co-occurring]

prints one JSON line per algorithm (``all``: every registered one, in one process): the configuration of the algorithm's space with the largest
estimate (``largest_estimate_configuration``), the estimate, and the measured peak.
The peak is the rise of the resident set: after the split is built and a warm-up fit
of the default configuration on a small matrix (imports, thread pools, BLAS buffers),
freed memory is returned to the system (``malloc_trim``), the kernel's high-water
mark is reset (``/proc/self/clear_refs``), then the model is fitted and evaluated on
validation and test from one ranking, as a search sample is; ``VmHWM - VmRSS`` before is the peak.
Fit arguments that only set how long a fit runs (``epochs``, ``n_epochs``, ``max_iter``)
are cut to 1: the estimate does not depend on them and one iteration holds the memory
of many (except where more are needed to fill the model: ``FILLING_RUN``).
``--co-occurring`` measures on ``co_occurring_split`` instead of the random split.
Used by ``tests/test_memory_estimates.py`` and ``benchmarks/bench_memory_estimates.py``.
"""

import argparse
import gc
import inspect
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Experiment_handler.evaluator import SharedRankingEvaluator, early_stopping_metric  # noqa: E402
from Recommenders.hyperparameter_space import Categorical  # noqa: E402
from Recommenders.memory import release_freed_memory  # noqa: E402
from Recommenders.registry import ALGORITHMS, get_algorithm  # noqa: E402

#: Fit arguments that only set how long a fit runs, and the value a measurement uses.
SHORT_RUN = {"epochs": 1, "n_epochs": 1, "max_iter": 1}
#: Where the run's length also sets what a model holds: SLIM-BPR's similarity gains entries
#: with every epoch up to ``topK`` per item (20 epochs fill it at the sizes measured here).
FILLING_RUN = {"SLIM_BPR_Cython": {"epochs": 20}}


def corner_values(dimension) -> list:
    """The values a largest estimate is looked for at: every category, or both bounds."""
    if isinstance(dimension, Categorical):
        return list(dimension.categories)
    return [dimension.low, dimension.high]


def largest_estimate_configuration(spec, n_users: int, n_items: int, n_interactions: int) -> tuple[dict, int]:
    """``(configuration, estimate)`` of the corner of ``spec``'s space (and its default) with the
    largest memory estimate for this data shape (estimates grow monotonically along each dimension)."""
    names = list(spec.space.dimensions)
    candidates = [dict(spec.space.default)]
    candidates += [dict(zip(names, values))
                   for values in itertools.product(*(corner_values(spec.space.dimensions[n]) for n in names))]
    estimator = spec.recommender_class.estimate_memory_bytes
    estimates = [estimator(n_users, n_items, n_interactions, **spec.fit_args, **config) for config in candidates]
    best = int(np.argmax(estimates))
    return candidates[best], int(estimates[best])


def random_split(n_users: int, n_items: int, n_interactions: int, seed: int):
    """Train / validation / test (80 / 10 / 10%) of a random matrix with popular items and 1-5 ratings."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    keys = np.unique(rng.integers(0, n_users, 2 * n_interactions).astype(np.int64) * n_items
                     + rng.choice(n_items, 2 * n_interactions, p=popularity / popularity.sum()))
    keys = rng.permutation(keys)[:n_interactions]
    part = rng.random(keys.size)
    values = rng.integers(1, 6, keys.size).astype(np.float32)

    def matrix(mask):
        return sp.csr_matrix((values[mask], (keys[mask] // n_items, keys[mask] % n_items)), shape=(n_users, n_items))

    return matrix(part < 0.8), matrix((part >= 0.8) & (part < 0.9)), matrix(part >= 0.9)


def co_occurring_split(n_users: int, n_items: int, seed: int):
    """Train / validation / test where every item co-occurs with every other: user 0 rated every item,
    user ``u > 0`` item ``(u - 1) mod n_items`` (all ratings 1); validation and test one random item per
    user. SLIM-ElasticNet's working sets grow to every item here (on ``random_split`` a fraction of them)."""
    rng = np.random.default_rng(seed)
    users = np.concatenate([np.zeros(n_items, np.int64), np.arange(1, n_users)])
    items = np.concatenate([np.arange(n_items), (np.arange(1, n_users) - 1) % n_items])
    train = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(n_users, n_items))

    def hold_out():
        return sp.csr_matrix((np.ones(n_users, np.float32), (np.arange(n_users), rng.integers(0, n_items, n_users))),
                             shape=(n_users, n_items))

    return train, hold_out(), hold_out()


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> int:
    """Return freed heap memory to the system (``release_freed_memory``), reset the kernel's
    high-water mark to the current resident set, and return that set's bytes."""
    release_freed_memory()
    before = _status_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    return before


def peak_rise(before: int) -> int:
    """Bytes the resident set rose to above ``before`` (``reset_peak``'s result) since that call."""
    return _status_bytes("VmHWM") - before


def fit_and_evaluate(spec, hyperparameters: dict, train, validation, test) -> None:
    accepted = inspect.signature(spec.recommender_class._fit).parameters
    fit_args = {**spec.fit_args,
                **{name: value for name, value in SHORT_RUN.items() if name in accepted or name in spec.fit_args},
                **FILLING_RUN.get(spec.name, {})}
    if spec.early_stopping:  # the validation NDCG the search's early stopping reads after each epoch
        fit_args["validation_metric"] = early_stopping_metric(validation, exclude_seen=True)
    model = spec.recommender_class(seed=0).fit(train, **fit_args, **hyperparameters)
    SharedRankingEvaluator({"validation": validation, "test": test}).evaluate(model)


def measure(alg_name: str, train, validation, test, seed: int = 0, cold: bool = False) -> dict:
    """Largest-estimate configuration, its estimate and the measured peak rise (bytes). ``cold``:
    the warm-up fits TopPop, so that the algorithm's own imports (PyTorch) count in the peak."""
    spec = get_algorithm(alg_name)
    n_users, n_items = train.shape
    configuration, estimate = largest_estimate_configuration(spec, n_users, n_items, train.nnz)
    warm = random_split(200, 150, 3000, seed + 1)
    warm_spec = get_algorithm("TopPop") if cold else spec
    fit_and_evaluate(warm_spec, dict(warm_spec.space.default), *warm)
    del warm
    gc.collect()
    before = reset_peak()
    start = time.perf_counter()
    fit_and_evaluate(spec, configuration, train, validation, test)
    seconds = time.perf_counter() - start
    peak = peak_rise(before)
    return {"algorithm": alg_name, "shape": [n_users, n_items, int(train.nnz)], "configuration": configuration,
            "estimate_bytes": estimate, "peak_bytes": peak, "seconds": round(seconds, 2),
            "ratio": estimate / peak if peak > 0 else math.inf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("alg_names", help="comma-separated algorithm names, or 'all'")
    parser.add_argument("n_users", type=int)
    parser.add_argument("n_items", type=int)
    parser.add_argument("n_interactions", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold", action="store_true",
                        help="warm up with TopPop: the algorithm's imports (PyTorch) count in the peak "
                             "(for one algorithm per process)")
    parser.add_argument("--co-occurring", action="store_true",
                        help="measure on co_occurring_split (N_INTERACTIONS is not used)")
    args = parser.parse_args()
    names = list(ALGORITHMS) if args.alg_names == "all" else args.alg_names.split(",")
    if args.co_occurring:
        split = co_occurring_split(args.n_users, args.n_items, args.seed)
    else:
        split = random_split(args.n_users, args.n_items, args.n_interactions, args.seed)
    for name in names:
        try:
            result = measure(name, *split, seed=args.seed, cold=args.cold)
        except ImportError as error:  # an optional dependency (extra) that is not installed
            result = {"algorithm": name, "skipped": f"{type(error).__name__}: {error}"}
        print(json.dumps(result), flush=True)
        gc.collect()


if __name__ == "__main__":
    main()
