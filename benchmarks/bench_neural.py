"""Benchmark: the neural models' seconds per epoch, peak RSS and NDCG@10 on CPU, against RecBole.

Data (implicit feedback: every interaction counts 1, as RecBole reads it): ``large``, the
20,000 x 8,000 x ~1,000,000 synthetic split of ``bench_algorithms.py`` (SyntheticLarge, 20% held
out at random), and ``ml100k``, a Movielens100K-sized synthetic dataset (943 users x 1,682 items
x 100,000 interactions, 20% held out the same way). Each measurement runs in a fresh
subprocess with ``RECZILLA_THREADS`` set, the registry default without early stopping.

- ``ml100k``: ``EPOCHS`` epochs per model (``--epochs`` overrides; SpectralCF, whose epoch is one
  batch, trains 200 times as many), then NDCG@10 on the held-out part (seen items excluded).
- ``large``: seconds per epoch. An epoch of more than ``--max-batches`` optimiser steps is not
  run to its end: the steps after the first are timed up to ``--max-batches`` of them and the
  time per step is multiplied by the epoch's number of steps (``steps_per_epoch``), marked
  ``extrapolated``; the epoch's start (shuffling, negative sampling) counts in the setup
  seconds then. SpectralCF trains ``--max-batches`` epochs. No NDCG (the training is cut).

Reported: setup seconds (before the first timed step), wall and CPU seconds per epoch, peak RSS against the
model's memory estimate, NDCG@10. A configuration whose estimate is above ``--memory-cap`` is
reported, not run.

RecBole (``pip install recbole``, benchmark-only extra ``bench``) trains its MultiVAE and
SpectralCF on the same split with the same architecture, batch size and number of batches in the
same run, each right after ours under the same load (``recbole_bridge.py``); the second table
gives both times (wall and CPU), their ratios (ours / RecBole), both NDCG@10 and the 1-minute
load average. SpectralCF is compared per batch: its epoch is one batch of 64 users here (the
reference's) and a pass over every interaction in RecBole.

    python benchmarks/bench_neural.py [--models A B ...] [--datasets ml100k large]
        [--threads 1 2] [--epochs N] [--max-batches 20] [--memory-cap 3G] [--skip-recbole]
"""

import argparse
import importlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_algorithms import benchmark_split, peak_rss_mib  # noqa: E402
from bench_algorithms import child as run_child  # noqa: E402

from Data_manager.synthetic import SyntheticConfig, generate_synthetic  # noqa: E402
from Recommenders.memory import format_bytes, memory_limit_bytes  # noqa: E402
from Recommenders.registry import ALGORITHMS  # noqa: E402

NEURAL = [name for name, spec in ALGORITHMS.items() if spec.extra == "neural"]
ML100K_SIZED = SyntheticConfig(n_users=943, n_items=1682, n_interactions=100_000, seed=21)
CHILD_TIMEOUT = 1800
#: Epochs on ``ml100k`` per model: about a minute of training each on a loaded 2-core machine.
EPOCHS = {"Mult_VAE_RecommenderWrapper": 20, "MFBPR_Wrapper": 2, "DELF_MLP_RecommenderWrapper": 2,
          "DELF_EF_RecommenderWrapper": 2, "INeuRec_RecommenderWrapper": 1, "UNeuRec_RecommenderWrapper": 1,
          "SpectralCF_RecommenderWrapper": 2}
SPECTRAL_CF = "SpectralCF_RecommenderWrapper"
#: RecBole's counterparts: (its model, our model).
RECBOLE_MODELS = {"MultiVAE": "Mult_VAE_RecommenderWrapper", "SpectralCF": SPECTRAL_CF}


def binary(URM: sp.csr_matrix) -> sp.csr_matrix:
    URM.data[:] = 1
    return URM


def split(dataset: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(train, test)`` of ``dataset``, every interaction 1."""
    if dataset == "large":
        return tuple(binary(URM) for URM in benchmark_split())
    folder = Path(tempfile.gettempdir()) / f"reczilla_bench_ml100k_{ML100K_SIZED.seed}"
    paths = {part: folder / f"URM_{part}.npz" for part in ("train", "test")}
    if not all(path.exists() for path in paths.values()):
        URM = generate_synthetic("Movielens100KSized", ML100K_SIZED).URM_all.tocoo()
        held_out = np.random.default_rng(0).random(URM.nnz) < 0.2
        folder.mkdir(exist_ok=True)
        for part, mask in (("train", ~held_out), ("test", held_out)):
            matrix = sp.csr_matrix((URM.data[mask], (URM.row[mask], URM.col[mask])), shape=URM.shape, dtype=np.float32)
            partial = folder / f".{part}.{os.getpid()}.npz"
            sp.save_npz(partial, matrix)
            os.replace(partial, paths[part])
    return tuple(binary(sp.load_npz(paths[part]).tocsr()) for part in ("train", "test"))


def epochs_for(name: str, epochs: int | None) -> int:
    """Epochs of ``name`` on ``ml100k``: ``EPOCHS`` or ``epochs``; SpectralCF 200 times as many."""
    epochs = EPOCHS[name] if epochs is None else epochs
    return epochs * 200 if name == SPECTRAL_CF else epochs


def steps_per_epoch(name: str, URM: sp.csr_matrix, batch_size: int) -> int:
    """Optimiser steps in one epoch of ``name`` (as each model's ``run_epoch`` batches it)."""
    n_users, n_items = URM.shape
    if name == "Mult_VAE_RecommenderWrapper":
        return math.ceil(n_users / batch_size)
    if name == "MFBPR_Wrapper":
        return URM.nnz // batch_size
    if name in ("INeuRec_RecommenderWrapper", "UNeuRec_RecommenderWrapper"):
        return n_users * n_items // batch_size
    if name in ("DELF_MLP_RecommenderWrapper", "DELF_EF_RecommenderWrapper"):
        return batch_size  # DELF's batch_size is its number of batches per epoch
    return 1  # SpectralCF


class _Enough(Exception):
    """Raised by ``StepClock`` once it has timed its steps."""


class StepClock:
    """An optimiser step post-hook (on every optimiser) that records when each step ends, in wall
    and CPU seconds, and stops the training after ``steps + 1`` of them."""

    def __init__(self, steps: int):
        self.steps, self.ends, self.cpu_ends = steps, [], []

    def __call__(self, optimizer, args, kwargs) -> None:
        self.ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())
        if len(self.ends) > self.steps:
            raise _Enough

    def seconds_per_step(self) -> tuple[float, float]:
        """Wall and CPU seconds per step, the first step (a warm-up) left out."""
        return (self.ends[-1] - self.ends[0]) / self.steps, (self.cpu_ends[-1] - self.cpu_ends[0]) / self.steps


def ndcg_at_10(model, URM_test) -> float:
    from Experiment_handler.evaluator import Evaluator

    return Evaluator(URM_test, cutoffs=[10]).evaluate(model)[10]["NDCG"]


def measure_model(name: str, dataset: str, epochs: int | None, max_batches: int) -> dict:
    """One fit of ``name``'s default on ``dataset``: full epochs (``ml100k``) or cut after
    ``max_batches`` timed steps (``large``)."""
    import torch  # noqa: F401  (imported before the clock starts: setup is the model's own)

    spec = ALGORITHMS[name]
    URM_train, URM_test = split(dataset)
    arguments = {**spec.fit_args, **spec.space.default}
    steps = steps_per_epoch(name, URM_train, arguments["batch_size"])
    estimate = spec.recommender_class.estimate_memory_bytes(*URM_train.shape, URM_train.nnz, **arguments)
    result = {"estimate_mib": estimate / 1024**2, "extrapolated": False, "steps_per_epoch": steps}
    model = spec.recommender_class(seed=0)
    if dataset == "ml100k" or steps == 1:
        arguments["epochs"] = epochs_for(name, epochs) if dataset == "ml100k" else max_batches
        start = time.perf_counter()
        model.fit(URM_train, **arguments)
        history = model.history_
        epochs_run = history.epochs_run
        result.update(setup_s=time.perf_counter() - start - history.seconds, epoch_s=history.seconds / epochs_run,
                      cpu_epoch_s=history.cpu_seconds / epochs_run, epochs=epochs_run)
        if dataset == "ml100k":
            result["ndcg_10"] = ndcg_at_10(model, URM_test)
    else:
        clock = StepClock(min(max_batches, steps - 1))
        handle = importlib.import_module("torch.optim.optimizer").register_optimizer_step_post_hook(clock)
        start = time.perf_counter()
        try:
            model.fit(URM_train, **{**arguments, "epochs": 1})
        except _Enough:
            pass
        handle.remove()
        per_step, cpu_per_step = clock.seconds_per_step()
        result.update(setup_s=clock.ends[0] - start - per_step, epoch_s=per_step * steps,
                      cpu_epoch_s=cpu_per_step * steps, epochs=0,
                      extrapolated=clock.steps < steps - 1, timed_steps=clock.steps)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def recbole_child(model_name: str, dataset: str, epochs: int | None, max_batches: int) -> dict:
    """Train RecBole's ``model_name`` on our split (RecBole atomic files) for as many batches as
    ours: ``epochs_for`` epochs of ours on ``ml100k``, ``max_batches`` timed ones on ``large``."""
    import torch

    from recbole_bridge import train_recbole  # benchmarks/recbole_bridge.py

    torch.set_num_threads(int(os.environ["RECZILLA_THREADS"]))
    name = RECBOLE_MODELS[model_name]
    ours = {**ALGORITHMS[name].fit_args, **ALGORITHMS[name].space.default}
    URM_train, URM_test = split(dataset)
    if dataset == "ml100k":
        batches = epochs_for(name, epochs) * steps_per_epoch(name, URM_train, ours["batch_size"])
        return train_recbole(model_name, URM_train, URM_test, ours, batches, evaluate=True)
    return train_recbole(model_name, URM_train, URM_test, ours, max_batches, evaluate=False)


def child(arguments: list[str], threads: int) -> dict:
    return run_child(arguments, threads, script=__file__, timeout=CHILD_TIMEOUT)


def parse_bytes(value: str) -> int:
    os.environ["RECZILLA_MEMORY_LIMIT"] = value
    try:
        return memory_limit_bytes()
    finally:
        del os.environ["RECZILLA_MEMORY_LIMIT"]


def threads_for(dataset: str, threads: list[int]) -> list[int]:
    """Every thread count on ``large``; the first on ``ml100k`` (NDCG, a full training)."""
    return threads if dataset == "large" else threads[:1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=NEURAL, choices=NEURAL)
    parser.add_argument("--datasets", nargs="+", default=["ml100k", "large"], choices=["ml100k", "large"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, help="epochs on ml100k for every model (default: EPOCHS)")
    parser.add_argument("--max-batches", type=int, default=20, help="timed steps per epoch on large")
    parser.add_argument("--memory-cap", default="3G", help="configurations estimated above it are not run")
    parser.add_argument("--skip-recbole", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, name, dataset = args.child
        result = (measure_model if kind == "ours" else recbole_child)(name, dataset, args.epochs, args.max_batches)
        print(json.dumps(result))
        return
    options = ["--max-batches", str(args.max_batches)] + ([] if args.epochs is None else ["--epochs", str(args.epochs)])
    cap = parse_bytes(args.memory_cap)
    print(f"load average at start: {os.getloadavg()}; ml100k epochs: {args.epochs or EPOCHS} (SpectralCF x200); "
          f"large: at most {args.max_batches} timed steps")
    print("| model | data | threads | setup s | s / epoch | CPU s / epoch | peak RSS MiB | estimate MiB | NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    pairs = []
    for dataset in args.datasets:
        URM_train, _ = split(dataset)
        for name in args.models:
            spec = ALGORITHMS[name]
            estimate = spec.recommender_class.estimate_memory_bytes(
                *URM_train.shape, URM_train.nnz, **spec.fit_args, **spec.space.default)
            if estimate > cap:
                print(f"| {name} | {dataset} | - | not run: estimate {format_bytes(estimate)} > cap | | | | | |")
                continue
            for threads in threads_for(dataset, args.threads):
                r = child(["ours", name, dataset, *options], threads)
                if "error" in r:
                    print(f"| {name} | {dataset} | {threads} | {r['error']} | | | | | |", flush=True)
                else:
                    epoch = f"{r['epoch_s']:.3f}" + (f" (extrapolated from {r['timed_steps']} of "
                                                      f"{r['steps_per_epoch']} steps)" if r["extrapolated"] else "")
                    ndcg = f"{r['ndcg_10']:.4f}" if "ndcg_10" in r else "-"
                    print(f"| {name} | {dataset} | {threads} | {r['setup_s']:.2f} | {epoch} | {r['cpu_epoch_s']:.3f} | "
                          f"{r['peak_rss_mib']:.0f} | {r['estimate_mib']:.0f} | {ndcg} |", flush=True)
                theirs = next((model for model, ours in RECBOLE_MODELS.items() if ours == name), None)
                if theirs and not args.skip_recbole:  # right after ours, under the same load
                    other = child(["recbole", theirs, dataset, *options], threads)
                    print(f"RecBole {theirs} {dataset} {threads} threads: {json.dumps(other)}", file=sys.stderr,
                          flush=True)
                    pairs.append((name, dataset, threads, r, other, os.getloadavg()[0]))
    if not pairs:
        return
    print("\n| model | data | threads | unit | ours s | RecBole s | ratio | ours CPU s | RecBole CPU s | CPU ratio "
          "| ours NDCG@10 | RecBole NDCG@10 | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, dataset, threads, mine, other, load in pairs:
        if "error" in mine or "error" in other:
            print(f"| {name} | {dataset} | {threads} | | {mine.get('error', '')} | {other.get('error', '')} "
                  "| | | | | | | |")
            continue
        unit = "batch" if name == SPECTRAL_CF else "epoch"
        other_s, other_cpu = other[f"{unit}_s"], other[f"cpu_{unit}_s"]
        ndcg = [f"{r['ndcg_10']:.4f}" if "ndcg_10" in r else "-" for r in (mine, other)]
        print(f"| {name} | {dataset} | {threads} | {unit} | {mine['epoch_s']:.3f} | {other_s:.3f} | "
              f"{mine['epoch_s'] / other_s:.2f} | {mine['cpu_epoch_s']:.3f} | {other_cpu:.3f} | "
              f"{mine['cpu_epoch_s'] / other_cpu:.2f} | {ndcg[0]} | {ndcg[1]} | {load:.1f} |")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
