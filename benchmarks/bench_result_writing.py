"""Benchmark: what recording results costs a long search, old full rewrites against the journal.

A real sample of a fast algorithm (TopPop on SyntheticSmall, leave-last-out: fit plus
validation and test evaluation, every metric at 15 cutoffs) is run a few times; its
median time is the search's time per sample and its record the sample written.

- **old**: the zip rewritten in full after every sample (``write_result_zip`` with all
  samples so far). Its cost is timed at several sample counts in this run; it grows
  linearly with the count, so the whole search's cost is the sum over the samples of
  the fitted line (running all of it would take hours).
- **new**: ``ResultWriter`` (a journal line per sample, fsync'd at most once a second, zip on its schedule and at
  the end), run for every sample with a clock that adds the sample time per sample to
  the real time spent writing, so the schedule sees the search's true pace.

    python benchmarks/bench_result_writing.py [--samples 5000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Data_manager.synthetic import generate_synthetic  # noqa: E402
from Data_manager.splitters import get_splitter  # noqa: E402
from Experiment_handler.experiment import ExperimentConfig, ExperimentLog, evaluate_sample  # noqa: E402
from Experiment_handler.result_store import ResultWriter  # noqa: E402
from Experiment_handler.result_zip import SCHEMA_VERSION, metadata_json, write_result_zip  # noqa: E402
from Recommenders.registry import get_algorithm  # noqa: E402

OLD_PATH_COUNTS = (250, 500, 1000, 2000, 4000)


def fast_sample(repeats: int = 5) -> tuple[dict, float]:
    """A TopPop sample record on SyntheticSmall and the median seconds one such sample takes."""
    split = get_splitter("DataSplitter_leave_k_out_last")().split(generate_synthetic("SyntheticSmall"))
    config = ExperimentConfig(time_limit=600.0, dataset_name="SyntheticSmall", split_name="leave_k_out_last",
                              alg_name="TopPop", split_dir="", alg_seed=0, param_seed=0, num_samples=1,
                              result_dir="", experiment_name="bench", original_split_path="", exclude_seen=True,
                              split_checksum="0" * 64)
    spec = get_algorithm("TopPop")
    times, record = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        record = evaluate_sample(spec, split, config, "default", {}, 0)
        times.append(time.perf_counter() - started)
    return record, median(times)


def metadata_with(record: dict, count: int) -> dict:
    features = {f"f_feature_{i}": 0.123456789 * i for i in range(383)}  # as many as a real result
    return {"schema_version": SCHEMA_VERSION, "status": "error", "error": "running",
            "search_params": {"alg_name": "TopPop", "num_samples": count}, "environment": {},
            "dataset_features": features,
            "samples": [dict(record, sample_number=n, hyperparameters_source=f"random_{n}") for n in range(count)]}


def old_rewrite_seconds(folder: Path, record: dict, log_line: str) -> dict[int, float]:
    """Seconds of one full rewrite of the zip holding ``count`` samples, for each count timed."""
    seconds = {}
    for count in OLD_PATH_COUNTS:
        metadata = metadata_with(record, count)
        log = log_line * 2 * count
        started = time.perf_counter()
        write_result_zip(folder / "old.zip", metadata, log)
        seconds[count] = time.perf_counter() - started
    return seconds


def new_path_seconds(folder: Path, record: dict, samples: int, sample_seconds: float) -> tuple[float, int]:
    """Seconds spent recording ``samples`` samples with ``ResultWriter``, and how often it rewrote the zip."""
    result_dir = folder / "new"
    result_dir.mkdir()
    log = ExperimentLog(result_dir / "experiment.log")
    simulated = {"search": 0.0}
    started = time.perf_counter()

    def clock() -> float:  # the search's time so far: its samples' time plus the time spent writing
        return simulated["search"] + time.perf_counter() - started

    writer = ResultWriter(result_dir, metadata_with(record, 0), [], {"alg_name": "TopPop"}, log.text, clock)
    rewrites = 0
    original_flush = writer.flush

    def counted_flush():
        nonlocal rewrites
        rewrites += 1
        original_flush()

    writer.flush = counted_flush
    writer.flush()
    for number in range(samples):
        simulated["search"] += sample_seconds
        log.write(f"sample {number} (random_{number}): {{}}")
        writer.add(dict(record, sample_number=number, hyperparameters_source=f"random_{number}"))
        log.write(f"sample {number} done in 0.01 s fit")
    writer.flush()
    return time.perf_counter() - started, rewrites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    record, sample_seconds = fast_sample()
    print(f"one TopPop sample on SyntheticSmall: {sample_seconds * 1000:.1f} ms; "
          f"its record {len(metadata_json(record)) / 1024:.1f} KiB of JSON")
    with tempfile.TemporaryDirectory(prefix="bench-result-writing-") as temp:
        folder = Path(temp)
        log_line = "2026-01-01 00:00:00 sample 1234 (random_1233): {'topK': 100, 'shrink': 10}\n"
        rewrite = old_rewrite_seconds(folder, record, log_line)
        slope, intercept = np.polyfit(list(rewrite), list(rewrite.values()), 1)
        new_seconds, rewrites = new_path_seconds(folder, record, args.samples, sample_seconds)
    search_seconds = args.samples * sample_seconds
    old_total = args.samples * intercept + slope * args.samples * (args.samples + 1) / 2
    print("old path, one full rewrite:", ", ".join(f"{n} samples {s:.2f} s" for n, s in rewrite.items()))
    print(f"{args.samples} samples, {search_seconds:.0f} s of search:")
    print(f"  old (rewrite after every sample, fitted line summed): {old_total:.0f} s writing = "
          f"{100 * old_total / (old_total + search_seconds):.1f}% of the run")
    print(f"  new (journal + {rewrites} scheduled rewrites): {new_seconds:.1f} s writing = "
          f"{100 * new_seconds / (new_seconds + search_seconds):.2f}% of the run; "
          f"old/new = {old_total / new_seconds:.0f}x")


if __name__ == "__main__":
    main()
