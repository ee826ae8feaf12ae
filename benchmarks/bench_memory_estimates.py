"""Benchmark: each algorithm's memory estimate against its measured peak (fit + evaluation).

    python benchmarks/bench_memory_estimates.py [--shape N_USERS N_ITEMS N_INTERACTIONS]
        [--algorithms A,B,...] [--timeout SECONDS]

Each algorithm runs in a fresh subprocess (``benchmarks/memory_peak.py``) at the
configuration of its space with the largest estimate, on a random split of the given
shape (default 20,000 x 5,000 x 1,000,000, 80% train), with fit arguments that only set
the number of iterations cut to 1. Prints estimate, measured peak and their ratio (an
estimate is an upper bound when the ratio is >= 1; the aim is at most about 1.5).
A MovieLens-20M-sized run (138,000 x 27,000 x 20,000,000) needs several GiB per
algorithm and hours for the slowest ones.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Recommenders.registry import ALGORITHMS  # noqa: E402

MEASURE = Path(__file__).resolve().parent / "memory_peak.py"


def measure(name: str, shape: list[int], timeout: float) -> dict:
    try:
        result = subprocess.run([sys.executable, str(MEASURE), name, *map(str, shape)], capture_output=True,
                                text=True, timeout=timeout, env={**os.environ})
    except subprocess.TimeoutExpired:
        return {"algorithm": name, "skipped": f"longer than {timeout:.0f} s"}
    if result.returncode != 0:
        return {"algorithm": name, "skipped": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[20_000, 5_000, 1_000_000])
    parser.add_argument("--algorithms", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per algorithm")
    args = parser.parse_args()
    names = list(ALGORITHMS) if args.algorithms == "all" else args.algorithms.split(",")
    print(f"shape {args.shape[0]} x {args.shape[1]} x {args.shape[2]}; RECZILLA_THREADS="
          f"{os.environ.get('RECZILLA_THREADS', 'all')}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'algorithm':36s} {'estimate MiB':>12s} {'peak MiB':>9s} {'ratio':>6s}  configuration")
    for name in names:
        row = measure(name, args.shape, args.timeout)
        if "skipped" in row:
            print(f"{name:36s} skipped: {row['skipped']}")
            continue
        print(f"{name:36s} {row['estimate_bytes'] / 2**20:12.1f} {row['peak_bytes'] / 2**20:9.1f} "
              f"{row['ratio']:6.2f}  {row['configuration']}", flush=True)


if __name__ == "__main__":
    main()
