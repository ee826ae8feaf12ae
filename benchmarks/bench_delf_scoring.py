"""Benchmark: DELF's scoring (``DELF.score_block``, buffers reused across chunks) against scoring
through the training path (``_first_layers`` and ``_logits`` per chunk, fresh tensors each chunk).

    python benchmarks/bench_delf_scoring.py [--shape N_USERS N_ITEMS N_INTERACTIONS]
        [--users N] [--fusion mlp|ef] [--repeats R]

An untrained network (default layers 256, 128, 64) on a random split scores ``--users`` users
in blocks of ``SCORE_BLOCK_USERS``, as an evaluation does. Each variant runs in a fresh child
process, alternating, ``--repeats`` times; prints per run the wall and CPU seconds and the rise
of the resident set (``VmHWM`` after minus ``VmRSS`` before), and the largest score difference.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.memory_peak import peak_rise, random_split, reset_peak  # noqa: E402
from Recommenders.base import SCORE_BLOCK_USERS  # noqa: E402
from Recommenders.neural.recommender import SCORE_CHUNK_ELEMENTS  # noqa: E402

#: Floats per pair the training path's chunks were sized by (towers' and head's widths).
TRAINING_PATH_PAIR_WIDTH = 448


def score_through_training_path(model, torch, user_ids: np.ndarray):
    n_items = model.item_embeddings.shape[0]
    users = torch.from_numpy(user_ids)
    items = torch.arange(n_items)
    attentive = model.cached("attentive", model.attentive_embeddings)
    chunk = max(1, SCORE_CHUNK_ELEMENTS // (n_items * TRAINING_PATH_PAIR_WIDTH))
    scores = []
    for start in range(0, users.numel(), chunk):
        block = users[start : start + chunk]
        parts = model._first_layers(block, items, attentive)
        scores.append(model._logits(parts, block, items, (block.numel(), 1), (1, n_items)))
    return torch.cat(scores)


def child(variant: str, shape: list[int], n_scored: int, fusion: str, output: str) -> None:
    import torch

    from Recommenders.neural.delf import DELF

    torch.set_num_threads(1)
    torch.manual_seed(0)
    train, _, _ = random_split(*shape, seed=0)
    model = DELF(train, device=torch.device("cpu"), rng=np.random.default_rng(0), fusion=fusion, learning_rate=1e-3,
                 num_negatives=4, batch_size=64, layers=(256, 128, 64), regularization_layers=(0, 0, 0),
                 learner="adam").eval()
    with torch.no_grad():
        model.cached("attentive", model.attentive_embeddings)
    before = reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    kept = []
    with torch.no_grad():
        for start in range(0, n_scored, SCORE_BLOCK_USERS):
            user_ids = np.arange(start, min(start + SCORE_BLOCK_USERS, n_scored), dtype=np.int64)
            if variant == "reused_buffers":
                scores = model.score_block(user_ids)
            else:
                scores = score_through_training_path(model, torch, user_ids)
            kept.append(scores[:, :50].numpy().copy())  # a sample for the comparison
    result = {"variant": variant, "wall_s": round(time.perf_counter() - wall, 2),
              "cpu_s": round(time.process_time() - cpu, 2),
              "rss_rise_mib": round(peak_rise(before) / 2**20, 1)}
    np.save(output, np.concatenate(kept))
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[10_000, 4_000, 400_000])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--fusion", choices=["mlp", "ef"], default="mlp")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.shape, args.users, args.fusion, args.output)
        return
    samples = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for variant in ("training_path", "reused_buffers"):
                output = str(Path(folder) / f"{variant}.npy")
                result = subprocess.run([sys.executable, __file__, "--child", variant, "--output", output, "--users",
                                         str(args.users), "--fusion", args.fusion, "--shape", *map(str, args.shape)],
                                        capture_output=True, text=True, check=True)
                print(result.stdout.strip(), flush=True)
                samples[variant] = np.load(output)
    difference = np.abs(samples["training_path"] - samples["reused_buffers"]).max()
    print(json.dumps({"max_abs_score_difference": float(difference),
                      "max_abs_score": float(np.abs(samples["training_path"]).max())}))


if __name__ == "__main__":
    main()
