"""Benchmark: parsing a large ratings file with a reader against a bare pandas baseline.

A seeded Amazon-style ``ratings_<Category>.csv`` (``user,item,rating,timestamp``, no
header; ~N/5 users and ~N/10 items with skewed activity) is parsed by the
``AmazonBooks`` reader (line checks with exact error positions, id maps, duplicate
check, CSR matrices) and by pandas' C parser + ``factorize`` + CSR (no checks). Each
runs in a fresh subprocess for a clean peak RSS.

    python benchmarks/bench_readers.py [--lines 2000000]
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


def write_ratings(path: Path, n_lines: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = max(n_lines // 5, 1), max(n_lines // 10, 1)
    users = np.minimum((rng.pareto(1.5, 3 * n_lines) * n_users / 20).astype(np.int64), n_users - 1)
    items = np.minimum((rng.pareto(1.2, 3 * n_lines) * n_items / 20).astype(np.int64), n_items - 1)
    pairs = np.unique(users * n_items + items)[:n_lines]
    pairs = rng.permutation(pairs)
    ratings = rng.integers(1, 6, len(pairs))
    times = rng.integers(900_000_000, 1_400_000_000, len(pairs))
    with open(path, "w") as out:
        for pair, rating, seconds in zip(pairs.tolist(), ratings.tolist(), times.tolist()):
            out.write(f"A{pair // n_items:013d},B{pair % n_items:09d},{rating}.0,{seconds}\n")


def peak_rss_mib() -> float:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_reader(path: Path) -> dict:
    from Data_manager.readers.amazon import READERS

    reader = next(r for r in READERS if r.name == "AmazonBooks")
    start = time.perf_counter()
    dataset = reader.read({reader.sources[0].filename: path})
    return {"seconds": time.perf_counter() - start, "nnz": int(dataset.URM_all.nnz)}


def run_pandas(path: Path) -> dict:
    import pandas as pd
    import scipy.sparse as sp

    start = time.perf_counter()
    dtypes = {"u": str, "i": str, "r": np.float32, "t": np.int64}
    frame = pd.read_csv(path, header=None, names=list(dtypes), dtype=dtypes)
    rows, users = pd.factorize(frame["u"])
    cols, items = pd.factorize(frame["i"])
    URM = sp.csr_matrix((frame["r"].to_numpy(), (rows, cols)), shape=(len(users), len(items)))
    sp.csr_matrix((frame["t"].to_numpy(), (rows, cols)), shape=URM.shape)
    return {"seconds": time.perf_counter() - start, "nnz": int(URM.nnz)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        result = (run_reader if kind == "reader" else run_pandas)(Path(path))
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings_Books.csv"
        write_ratings(path, args.lines)
        size_mib = path.stat().st_size / 2**20
        print(f"{args.lines} lines, {size_mib:.0f} MiB")
        results = {}
        for kind in ("reader", "pandas"):
            output = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True,
                                    text=True, check=True).stdout
            results[kind] = json.loads(output)
            r = results[kind]
            print(f"{kind:7s} {r['seconds']:6.2f} s  {args.lines / r['seconds'] / 1e6:5.2f} M lines/s  "
                  f"peak RSS {r['peak_rss_mib']:6.0f} MiB  nnz {r['nnz']}")
        print(f"reader / pandas time: {results['reader']['seconds'] / results['pandas']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
