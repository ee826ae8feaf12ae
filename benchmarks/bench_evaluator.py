"""Benchmark: full evaluation (every metric, 15 cutoffs) of TopPop against bare numpy top-50 ranking.

A seeded synthetic split (power-law item popularity, ~20,000 users x 8,000 items x
1,000,000 interactions, 80/20 random hold-out) is evaluated by ``Evaluator``; the
baseline ranks the same users' full score matrix with numpy (argpartition, then a
sort of the top 50, no metrics). Each configuration runs in a fresh subprocess
(clean peak RSS), with 1 and 2 threads (``RECZILLA_THREADS`` and threadpoolctl).

    python benchmarks/bench_evaluator.py [--users 20000 --items 8000 --interactions 1000000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator  # noqa: E402
from Recommenders.base import SCORE_BLOCK_USERS  # noqa: E402
from Recommenders.non_personalized import TopPop  # noqa: E402
from Recommenders.threads import limited_threads  # noqa: E402


def synthetic_split(n_users: int, n_items: int, n_interactions: int, seed: int = 0):
    """Train/test CSR matrices: items drawn with Zipf-like popularity (ids shuffled), users
    with log-normal activity; duplicates dropped; 20% of interactions held out at random."""
    rng = np.random.default_rng(seed)
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_weight = rng.permutation(item_weight / item_weight.sum())
    user_weight = rng.lognormal(0.0, 1.0, n_users)
    user_weight /= user_weight.sum()
    keys = np.empty(0, dtype=np.int64)
    while keys.size < n_interactions:
        draws = int((n_interactions - keys.size) * 1.3) + 1000
        users = rng.choice(n_users, size=draws, p=user_weight)
        items = rng.choice(n_items, size=draws, p=item_weight)
        keys = np.unique(np.concatenate([keys, users.astype(np.int64) * n_items + items]))
    keys = rng.permutation(keys)[:n_interactions]
    held_out = rng.random(keys.size) < 0.2
    ratings = rng.integers(1, 6, keys.size).astype(np.float32)

    def matrix(mask):
        part = keys[mask]
        return sp.csr_matrix((ratings[mask], (part // n_items, part % n_items)), shape=(n_users, n_items))

    return matrix(~held_out), matrix(held_out)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_one(mode: str, args) -> dict:
    """One measurement in this process: ``evaluate`` or the ``numpy`` ranking baseline."""
    URM_train, URM_test = synthetic_split(args.users, args.items, args.interactions)
    model = TopPop().fit(URM_train)
    users = np.flatnonzero(np.diff(URM_test.indptr) > 0)
    rss_before = peak_rss_mib()
    with limited_threads():
        if mode == "evaluate":
            start = time.perf_counter()
            evaluator = Evaluator(URM_test, cutoffs=DEFAULT_CUTOFFS)
            evaluator.evaluate(model)
            seconds = time.perf_counter() - start
        else:
            scores = np.empty((users.size, args.items), dtype=np.float32)
            for begin in range(0, users.size, SCORE_BLOCK_USERS):
                scores[begin : begin + SCORE_BLOCK_USERS] = model.score(users[begin : begin + SCORE_BLOCK_USERS])
            rss_before = peak_rss_mib()
            start = time.perf_counter()
            for begin in range(0, users.size, SCORE_BLOCK_USERS):
                block = scores[begin : begin + SCORE_BLOCK_USERS]
                top = np.argpartition(-block, 50, axis=1)[:, :50]
                order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
                np.take_along_axis(top, order, axis=1)
            seconds = time.perf_counter() - start
    return {"mode": mode, "seconds": seconds, "users": int(users.size), "nnz_train": URM_train.nnz,
            "nnz_test": URM_test.nnz, "rss_before_mib": rss_before, "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=8_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", choices=["evaluate", "numpy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_one(args.mode, args)))
        return
    print(f"{args.users} users x {args.items} items x {args.interactions} interactions; "
          f"TopPop, {len(DEFAULT_CUTOFFS)} cutoffs, every metric")
    print(f"{'threads':>7} {'evaluate s':>11} {'numpy top-50 s':>15} {'ratio':>6} "
          f"{'eval peak RSS MiB':>18} {'numpy peak RSS MiB':>19}")
    for threads in args.threads:
        runs = {}
        for mode in ("evaluate", "numpy"):
            env = {**os.environ, "RECZILLA_THREADS": str(threads)}
            command = [sys.executable, __file__, "--mode", mode, "--users", str(args.users),
                       "--items", str(args.items), "--interactions", str(args.interactions)]
            output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            runs[mode] = json.loads(output)
        evaluate, baseline = runs["evaluate"], runs["numpy"]
        print(f"{threads:>7} {evaluate['seconds']:>11.3f} {baseline['seconds']:>15.3f} "
              f"{evaluate['seconds'] / baseline['seconds']:>6.2f} {evaluate['peak_rss_mib']:>18.0f} "
              f"{baseline['peak_rss_mib']:>19.0f}")
    print(f"users evaluated: {evaluate['users']}, train nnz {evaluate['nnz_train']}, test nnz {evaluate['nnz_test']}; "
          f"RSS before evaluating: {evaluate['rss_before_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
