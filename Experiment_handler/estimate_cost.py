"""Price a batch of experiments before launching it (``ESTIMATE=1`` of the batch script).

    python -m Experiment_handler.estimate_cost --experiments FILE --num-samples N --time-limit S \\
        [--machine-type n1-highmem-2] [--provisioning SPOT|STANDARD] [--backend local|gcloud|gcloud-batch] \\
        [--inbox FOLDER_OR_GS] [--table CSV] [--overhead S] [--price-per-hour USD]

``FILE`` has one experiment a line: ``algorithm<TAB>dataset<TAB>path of its split.json``.
The cost model (``Experiment_handler.cost_model``) is fitted on the samples of the valid
result zips in ``--inbox`` (their ``time_on_*`` and the training sizes in their
``dataset_features``) plus the shipped table measured with ``benchmarks/bench_cost_model.py``
(``--table`` replaces it). Prints, per algorithm and in total: experiments, samples,
VM-hours and dollars, with the price per VM-hour used. Runs nothing.
"""

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from Data_manager.cli_errors import CommandLineError, UsageError, run_cli
from Data_manager.text_table import format_table
from Experiment_handler.cost_model import SHIPPED_TABLE, CostModel, Measurement, SplitSize, read_prices, read_table
from Experiment_handler.process_inbox import sync_bucket
from Experiment_handler.result_zip import ResultZipError
from Experiment_handler.result_zip_validation import validate_result_zip
from Recommenders.registry import ALGORITHMS

#: Seconds per experiment outside its samples besides the process's own (start, imports, loading
#: the split: measured, in the table): on the cloud, the VM's boot, the code's install from the
#: cached wheel and the copies to and from the bucket; the gcloud backend adds its ssh waits.
#: Assumed, not measured here (no GCP account reached these machines).
VM_OVERHEAD = {"local": 0.0, "gcloud": 180.0, "gcloud-batch": 120.0}
#: The process overhead when the table records none.
DEFAULT_PROCESS_OVERHEAD = 5.0


def inbox_measurements(folder: Path) -> list[Measurement]:
    """One measurement per finished sample of every valid result zip in ``folder``."""
    measurements = []
    for path in sorted(folder.glob("result_*.zip")):
        try:
            metadata = validate_result_zip(path)
        except ResultZipError:
            continue
        features = metadata["dataset_features"]
        try:
            size = SplitSize(int(features["f_num_users"]), int(features["f_num_items"]),
                             int(features["f_num_interactions"]))
        except (KeyError, TypeError, ValueError):
            continue
        for sample in metadata["samples"]:
            times = [sample[key] for key in ("time_on_train", "time_on_validation", "time_on_test")]
            if sample["exception"] is None and all(isinstance(t, (int, float)) for t in times):
                measurements.append(Measurement(metadata["search_params"]["alg_name"], size, float(sum(times))))
    return measurements


def split_size(split_json: Path) -> SplitSize:
    """The training size a split's ``split.json`` records."""
    try:
        info = json.loads(split_json.read_text(encoding="utf-8"))
        n_users, n_items = info["shape"]
        return SplitSize(int(n_users), int(n_items), int(info["n_interactions"]["URM_train"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CommandLineError(f"cannot read the split's size from {split_json}: {error}") from None


def samples_run(alg_name: str, num_samples: int) -> int:
    """``num_samples`` capped by the algorithm's distinct configurations (as the search does)."""
    spec = ALGORITHMS.get(alg_name)
    if spec is None:
        return num_samples
    caps = [num_samples, spec.space.cardinality()]
    if spec.max_points is not None:
        caps.append(spec.max_points)
    return int(min(caps))


def read_experiments(path: Path) -> list[tuple[str, str, Path]]:
    experiments = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise UsageError(f"{path}:{number}: expected algorithm<TAB>dataset<TAB>split.json")
        experiments.append((parts[0], parts[1], Path(parts[2])))
    return experiments


def estimate(experiments, model: CostModel, num_samples: int, time_limit: float, overhead: float,
             price_per_hour: float) -> list[list[str]]:
    """Table rows (header first, total last): per algorithm, experiments, samples, VM-hours, dollars."""
    sizes = {}
    totals = defaultdict(lambda: [0, 0, 0.0])
    for alg_name, _, split_json in experiments:
        if split_json not in sizes:
            sizes[split_json] = split_size(split_json)
        samples = samples_run(alg_name, num_samples)
        total = totals[alg_name]
        total[0] += 1
        total[1] += samples
        total[2] += model.experiment_seconds(alg_name, sizes[split_json], samples, time_limit, overhead)
    rows = [["algorithm", "experiments", "samples", "VM-hours", "cost USD"]]
    grand = [0, 0, 0.0]
    for alg_name in sorted(totals):
        count, samples, seconds = totals[alg_name]
        rows.append([alg_name, str(count), str(samples), f"{seconds / 3600:.3f}", f"{seconds / 3600 * price_per_hour:.2f}"])
        grand = [grand[0] + count, grand[1] + samples, grand[2] + seconds]
    rows.append(["TOTAL", str(grand[0]), str(grand[1]), f"{grand[2] / 3600:.3f}",
                 f"{grand[2] / 3600 * price_per_hour:.2f}"])
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m Experiment_handler.estimate_cost",
                                     description="Project the VM-hours and cost of a batch of experiments.")
    parser.add_argument("--experiments", required=True, type=Path, help="algorithm<TAB>dataset<TAB>split.json lines")
    parser.add_argument("--num-samples", required=True, type=int)
    parser.add_argument("--time-limit", required=True, type=float, help="seconds per experiment")
    parser.add_argument("--machine-type", default="n1-highmem-2")
    parser.add_argument("--provisioning", default="SPOT", choices=("SPOT", "STANDARD"))
    parser.add_argument("--backend", default="gcloud-batch", choices=tuple(VM_OVERHEAD))
    parser.add_argument("--inbox", help="folder or gs:// inbox whose result zips the model is fitted on")
    parser.add_argument("--table", type=Path, default=SHIPPED_TABLE, help="measured samples (CSV) also fitted on")
    parser.add_argument("--overhead", type=float, help="seconds per experiment outside its samples")
    parser.add_argument("--price-per-hour", type=float, help="dollars per VM-hour (default: vm_prices.csv)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.num_samples < 1 or args.time_limit <= 0:
        raise UsageError("--num-samples and --time-limit must be positive")
    experiments = read_experiments(args.experiments)
    measurements, process_overhead = read_table(args.table)
    from_inbox = 0
    if args.inbox:
        with tempfile.TemporaryDirectory(prefix="reczilla-estimate-") as temp:
            folder = Path(args.inbox)
            if args.inbox.startswith("gs://"):
                folder = Path(temp)
                sync_bucket(args.inbox, folder)
            inbox = inbox_measurements(folder)
        from_inbox = len(inbox)
        measurements += inbox
    model = CostModel().fit(measurements)
    if args.price_per_hour is not None:
        price, source = args.price_per_hour, "--price-per-hour"
    else:
        prices = read_prices()
        if args.machine_type not in prices:
            raise UsageError(f"no price for machine type {args.machine_type!r} in vm_prices.csv "
                             f"(known: {', '.join(sorted(prices))}); give --price-per-hour")
        price, source = prices[args.machine_type].per_hour(args.provisioning), "vm_prices.csv"
    if args.overhead is not None:
        overhead = args.overhead
    else:
        overhead = VM_OVERHEAD[args.backend] + (DEFAULT_PROCESS_OVERHEAD if process_overhead is None else process_overhead)
    unmeasured = sorted({alg for alg, _, _ in experiments} - set(model.algorithms))
    print(f"cost model fitted on {len(measurements)} measured samples ({from_inbox} from the inbox); "
          f"{args.machine_type} {args.provisioning} at ${price:.4f}/VM-hour ({source}); "
          f"{overhead:g} s per experiment besides its samples; time limit {args.time_limit:g} s")
    if unmeasured:
        print(f"no measurements of {', '.join(unmeasured)}: projected with the model shared by all algorithms")
    print(format_table(estimate(experiments, model, args.num_samples, args.time_limit, overhead, price)))
    print("projection only: nothing was run")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
