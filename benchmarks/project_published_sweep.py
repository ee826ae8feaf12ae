"""Project the cost of the published RecZilla sweep with the shipped cost model.

    python benchmarks/project_published_sweep.py [--machine-type n1-highmem-2] [--samples 100] [--time-limit 36000]

The sweep: every dataset of ``benchmarks/reference_datasets.csv`` (the reference's dataset
list, with the source datasets' published sizes) x every registered algorithm x 100
hyperparameter samples, the reference's 10-hour limit per experiment (its
``scripts/neurips_experiments/*.sh``), one experiment per VM on Cloud Batch. Prints
VM-hours and dollars on spot and standard VMs, and how many experiments the projection
puts at the time limit. The model is fitted on the shipped table (built-in datasets of at
most 55,000 interactions), so the sizes here are far outside what it was fitted on.
"""

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from Experiment_handler.cost_model import SHIPPED_TABLE, CostModel, SplitSize, read_prices, read_table  # noqa: E402
from Experiment_handler.estimate_cost import VM_OVERHEAD, samples_run  # noqa: E402
from Recommenders.registry import ALGORITHMS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machine-type", default="n1-highmem-2")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--time-limit", type=float, default=36000)
    args = parser.parse_args()
    measurements, process_overhead = read_table(SHIPPED_TABLE)
    model = CostModel().fit(measurements)
    overhead = VM_OVERHEAD["gcloud-batch"] + process_overhead
    with open(REPO / "benchmarks/reference_datasets.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    seconds, at_limit, experiments = 0.0, 0, 0
    for row in rows:
        size = SplitSize(int(row["n_users"]), int(row["n_items"]), int(row["n_interactions"]))
        for alg in ALGORITHMS:
            samples = samples_run(alg, args.samples)
            in_samples = samples * model.sample_seconds(alg, size)
            at_limit += in_samples >= args.time_limit
            seconds += model.experiment_seconds(alg, size, samples, args.time_limit, overhead)
            experiments += 1
    hours = seconds / 3600
    price = read_prices()[args.machine_type]
    print(f"{len(rows)} datasets x {len(ALGORITHMS)} algorithms = {experiments} experiments, {args.samples} samples, "
          f"time limit {args.time_limit:g} s, {overhead:g} s overhead each")
    print(f"{at_limit} experiments projected to reach the time limit")
    print(f"{hours:,.0f} VM-hours on {args.machine_type}: spot ${hours * price.spot:,.0f} "
          f"(${price.spot}/h), standard ${hours * price.standard:,.0f} (${price.standard}/h)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
