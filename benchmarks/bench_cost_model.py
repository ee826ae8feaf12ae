"""Validate the cost model behind ``ESTIMATE=1`` on local batches of the built-in datasets.

    python benchmarks/bench_cost_model.py [--datasets SyntheticSmall Synthetic] [--algorithms ...]
        [--num-samples 3] [--time-limit 120] [--write-table Experiment_handler/cost_table.csv]

Runs two batches, one experiment at a time (``RECZILLA_THREADS=1``), each experiment a
``python -m Experiment_handler.run_experiment`` process whose wall time is measured:

1. the *fit* batch (``param_seed`` 1): the cost model is fitted on its result zips;
2. the *validation* batch (``param_seed`` 0: other hyperparameter configurations).

It prints the validation batch's measured total (the sum of the experiments' wall times,
i.e. VM-seconds) beside the projection ``estimate_cost`` makes for it, per algorithm and
in total, and the same for a fit on one dataset projected to the other (extrapolation in
size). ``--write-table`` saves the fit batch's samples as the table shipped with the package.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from Experiment_handler.cost_model import CostModel, write_table  # noqa: E402
from Experiment_handler.estimate_cost import inbox_measurements, samples_run, split_size  # noqa: E402
from Experiment_handler.result_zip_validation import validate_result_zip  # noqa: E402
from Recommenders.registry import ALGORITHMS  # noqa: E402

SPLITTER = "DataSplitter_leave_k_out_last"


def run(*args, env=None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *map(str, args)], check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_batch(algorithms, datasets, splits: Path, out: Path, num_samples: int, time_limit: int, param_seed: int):
    """Runs every experiment; returns {(alg, dataset): wall seconds} and leaves the zips in ``out``."""
    env = dict(os.environ, RECZILLA_THREADS="1", PYTHONPATH=str(REPO))
    walls = {}
    for dataset in datasets:
        for alg in algorithms:
            result_dir = out / f"{alg}_{dataset}"
            walls[(alg, dataset)] = run("-m", "Experiment_handler.run_experiment", time_limit, dataset, SPLITTER, alg,
                                        splits / dataset / SPLITTER, 0, param_seed, num_samples, result_dir,
                                        f"bench_{alg}_{dataset}", "local", env=env)
            (result_dir / "result.zip").rename(out / f"result_{alg}_{dataset}.zip")
    return walls


def process_overhead(walls: dict, folder: Path) -> float:
    """Median, over the batch's experiments, of the wall time minus the time of its samples."""
    rests = []
    for path in sorted(folder.glob("result_*.zip")):
        alg, dataset = path.stem.removeprefix("result_").rsplit("_", 1)
        samples = validate_result_zip(path)["samples"]
        in_samples = sum(s[key] or 0 for s in samples for key in ("time_on_train", "time_on_validation", "time_on_test"))
        rests.append(walls[alg, dataset] - in_samples)
    return float(statistics.median(rests))


def compare(model: CostModel, walls: dict, splits: Path, num_samples: int, time_limit: int, overhead: float,
            label: str) -> float:
    """Prints measured and projected seconds per algorithm and in total; returns projected / measured."""
    measured, projected = defaultdict(float), defaultdict(float)
    for (alg, dataset), wall in walls.items():
        size = split_size(splits / dataset / SPLITTER / "split.json")
        measured[alg] += wall
        projected[alg] += model.experiment_seconds(alg, size, samples_run(alg, num_samples), time_limit, overhead)
    print(f"\n{label}")
    print(f"{'algorithm':40s} {'measured s':>11s} {'projected s':>12s} {'ratio':>6s}")
    for alg in sorted(measured):
        print(f"{alg:40s} {measured[alg]:11.2f} {projected[alg]:12.2f} {projected[alg] / measured[alg]:6.2f}")
    total_m, total_p = sum(measured.values()), sum(projected.values())
    print(f"{'TOTAL':40s} {total_m:11.2f} {total_p:12.2f} {total_p / total_m:6.2f}")
    return total_p / total_m


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["SyntheticSmall", "Synthetic"])
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    parser.add_argument("--num-samples", type=int, default=3)
    parser.add_argument("--time-limit", type=int, default=120)
    parser.add_argument("--write-table", type=Path)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as temp:
        temp = Path(temp)
        splits = temp / "splits"
        run("-m", "Data_manager.create_all_data_splits", "--data-dir", temp / "data", "--splits-dir", splits,
            "--datasets", *args.datasets, "--splitters", SPLITTER)
        for dataset in args.datasets:
            run("-m", "Experiment_handler.metafeatures", splits / dataset / SPLITTER)
        batches = {}
        for name, seed in (("fit", 1), ("validation", 0)):
            (temp / name).mkdir()
            start = time.perf_counter()
            batches[name] = run_batch(args.algorithms, args.datasets, splits, temp / name, args.num_samples,
                                      args.time_limit, seed)
            print(f"{name} batch: {len(batches[name])} experiments in {time.perf_counter() - start:.0f} s")
        fitted = inbox_measurements(temp / "fit")
        overhead = process_overhead(batches["fit"], temp / "fit")
        print(f"process overhead per experiment (median over the fit batch): {overhead:.2f} s")
        ratio = compare(CostModel().fit(fitted), batches["validation"], splits, args.num_samples, args.time_limit,
                        overhead, "validation batch (param_seed 0), model fitted on the fit batch (param_seed 1):")
        print(f"projection / measured total: {ratio:.2f} ({'within' if 0.5 <= ratio <= 1.5 else 'OUTSIDE'} +-50%)")
        if len(args.datasets) > 1:
            first, rest = args.datasets[0], args.datasets[1:]
            first_size = split_size(splits / first / SPLITTER / "split.json")
            small = [m for m in fitted if m.size == first_size]
            walls = {key: wall for key, wall in batches["validation"].items() if key[1] in rest}
            ratio = compare(CostModel().fit(small), walls, splits, args.num_samples, args.time_limit, overhead,
                            f"extrapolation: fitted on {first} only, projecting {', '.join(rest)}:")
            print(f"projection / measured total: {ratio:.2f}")
        if args.write_table:
            write_table(args.write_table, fitted, overhead,
                        f"samples measured by benchmarks/bench_cost_model.py ({', '.join(args.datasets)}, "
                        f"{args.num_samples} samples, param_seed 1, RECZILLA_THREADS=1, {time.strftime('%Y-%m-%d')}, "
                        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            print(f"wrote {args.write_table}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
