"""Benchmark: the neural models' seconds per epoch, peak RSS and NDCG@10 on CPU, plus RecBole.

Data: ``large``, the 20,000 x 8,000 x ~1,000,000 synthetic split of ``bench_algorithms.py``
(SyntheticLarge, 20% held out at random), and ``ml100k``, a Movielens100K-sized synthetic
dataset (943 users x 1,682 items x 100,000 interactions, 20% held out the same way).
Each (model, dataset, threads) runs in a fresh subprocess with ``RECZILLA_THREADS`` set:
the registry default trained for ``--epochs`` epochs (SpectralCF, whose epoch is one batch,
for 50 times as many) without early stopping. Reported: setup seconds (data structures, before
the first epoch), seconds per epoch, peak RSS against the model's memory estimate, and NDCG@10
on the held-out part (seen items excluded). A configuration whose estimate is above
``--memory-cap`` is reported, not run.

RecBole (``pip install recbole``, benchmark only), when importable, trains its MultiVAE and
SpectralCF on the same split with the same architecture, batch size and epochs in the same
run (``recbole_child``); the table gives both times per epoch and both NDCG@10.

    python benchmarks/bench_neural.py [--models A B ...] [--datasets ml100k large]
        [--threads 1 2] [--epochs 2] [--memory-cap 3G] [--skip-recbole]
"""

import argparse
import json
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
#: RecBole's counterparts: (its model, our model).
RECBOLE_MODELS = {"MultiVAE": "Mult_VAE_RecommenderWrapper", "SpectralCF": "SpectralCF_RecommenderWrapper"}


def split(dataset: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    if dataset == "large":
        return benchmark_split()
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
    return tuple(sp.load_npz(paths[part]).tocsr() for part in ("train", "test"))


def epochs_for(name: str, epochs: int) -> int:
    return epochs * 50 if name == "SpectralCF_RecommenderWrapper" else epochs


def ndcg_at_10(model, URM_test) -> float:
    from Experiment_handler.evaluator import Evaluator

    return Evaluator(URM_test, cutoffs=[10]).evaluate(model)[10]["NDCG"]


def measure_model(name: str, dataset: str, epochs: int) -> dict:
    import torch  # noqa: F401  (imported before the clock starts: setup is the model's own)

    spec = ALGORITHMS[name]
    URM_train, URM_test = split(dataset)
    arguments = {**spec.fit_args, **spec.space.default, "epochs": epochs_for(name, epochs)}
    estimate = spec.recommender_class.estimate_memory_bytes(*URM_train.shape, URM_train.nnz, **arguments)
    start = time.perf_counter()
    model = spec.recommender_class(seed=0).fit(URM_train, **arguments)
    fit_seconds = time.perf_counter() - start
    history = model.history_
    return {"setup_s": fit_seconds - history.seconds, "epoch_s": history.seconds / history.epochs_run,
            "epochs": history.epochs_run, "peak_rss_mib": peak_rss_mib(), "estimate_mib": estimate / 1024**2,
            "ndcg_10": ndcg_at_10(model, URM_test)}


def recbole_child(model_name: str, dataset: str, epochs: int) -> dict:
    """Train RecBole's ``model_name`` on our split (written as RecBole atomic files) for ``epochs``."""
    from recbole_bridge import train_recbole  # benchmarks/recbole_bridge.py

    ours = ALGORITHMS[RECBOLE_MODELS[model_name]]
    URM_train, URM_test = split(dataset)
    return train_recbole(model_name, URM_train, URM_test, {**ours.fit_args, **ours.space.default},
                         epochs_for(RECBOLE_MODELS[model_name], epochs))


def child(arguments: list[str], threads: int) -> dict:
    return run_child(arguments, threads, script=__file__, timeout=CHILD_TIMEOUT)


def parse_bytes(value: str) -> int:
    os.environ["RECZILLA_MEMORY_LIMIT"] = value
    try:
        return memory_limit_bytes()
    finally:
        del os.environ["RECZILLA_MEMORY_LIMIT"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=NEURAL, choices=NEURAL)
    parser.add_argument("--datasets", nargs="+", default=["ml100k", "large"], choices=["ml100k", "large"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--memory-cap", default="3G", help="configurations estimated above it are not run")
    parser.add_argument("--skip-recbole", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, name, dataset = args.child
        result = (measure_model if kind == "ours" else recbole_child)(name, dataset, args.epochs)
        print(json.dumps(result))
        return
    cap = parse_bytes(args.memory_cap)
    print(f"load average at start: {os.getloadavg()}; epochs: {args.epochs} (SpectralCF x50)")
    print("| model | data | threads | setup s | s / epoch | peak RSS MiB | estimate MiB | NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for dataset in args.datasets:
        URM_train, _ = split(dataset)
        for name in args.models:
            spec = ALGORITHMS[name]
            estimate = spec.recommender_class.estimate_memory_bytes(
                *URM_train.shape, URM_train.nnz, **spec.fit_args, **spec.space.default)
            if estimate > cap:
                print(f"| {name} | {dataset} | - | not run: estimate {format_bytes(estimate)} > cap | | | | |")
                continue
            for threads in args.threads:
                r = child(["ours", name, dataset], threads)
                if "error" in r:
                    print(f"| {name} | {dataset} | {threads} | {r['error']} | | | | |")
                    continue
                print(f"| {name} | {dataset} | {threads} | {r['setup_s']:.2f} | {r['epoch_s']:.3f} | "
                      f"{r['peak_rss_mib']:.0f} | {r['estimate_mib']:.0f} | {r['ndcg_10']:.4f} |", flush=True)
    if args.skip_recbole:
        return
    print("\n| model | data | threads | ours s / epoch | RecBole s / epoch | ratio | ours NDCG@10 | RecBole NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for dataset in args.datasets:
        for theirs, name in RECBOLE_MODELS.items():
            if name not in args.models:
                continue
            for threads in args.threads:
                ours, other = child(["ours", name, dataset], threads), child(["recbole", theirs, dataset], threads)
                if "error" in ours or "error" in other:
                    print(f"| {name} | {dataset} | {threads} | {ours.get('error', '')} | {other.get('error', '')} "
                          "| | | |")
                    continue
                print(f"| {name} | {dataset} | {threads} | {ours['epoch_s']:.3f} | {other['epoch_s']:.3f} | "
                      f"{ours['epoch_s'] / other['epoch_s']:.2f} | {ours['ndcg_10']:.4f} | {other['ndcg_10']:.4f} |",
                      flush=True)


if __name__ == "__main__":
    main()
