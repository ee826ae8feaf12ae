"""How long experiments take, and what they cost on a VM: a model fitted on measured results.

The time of one hyperparameter sample (fit + validation + test, ``time_on_*`` of a result
zip) is modelled on the split's size, per algorithm:

    log(seconds) = a + a_alg + (b + b_alg) * log(interactions) + c * log(users) + d * log(items)

``a, b, c, d`` are shared by all algorithms; ``a_alg`` and ``b_alg`` are each algorithm's
departures from them, shrunk towards 0 by a ridge penalty (an algorithm measured on one
size only gets the shared slope; one never measured gets the shared model). Least squares
on the logs, so the error is relative. An experiment then takes

    overhead + samples * per-sample time,  at most time_limit + overhead

where ``samples`` is ``num_samples`` capped by the algorithm's number of distinct
configurations, and ``overhead`` the per-experiment time outside the samples (process start,
loading the split; on the cloud also the VM's boot, the code's install and the copies).
A VM-hour costs the price of the machine type and provisioning model in ``vm_prices.csv``.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRICES_FILE = Path(__file__).with_name("vm_prices.csv")
SHIPPED_TABLE = Path(__file__).with_name("cost_table.csv")
TABLE_COLUMNS = ("alg_name", "n_users", "n_items", "n_interactions", "seconds_per_sample")


@dataclass(frozen=True)
class SplitSize:
    """The size of a split's training data."""

    n_users: int
    n_items: int
    n_interactions: int

    def features(self) -> np.ndarray:
        return np.log(np.maximum([self.n_interactions, self.n_users, self.n_items], 1).astype(float))


@dataclass(frozen=True)
class Measurement:
    """One measured sample: its algorithm, its split's size and its seconds."""

    alg_name: str
    size: SplitSize
    seconds: float


class CostModel:
    """The per-sample time model of the module docstring; ``fit`` then ``sample_seconds``."""

    def __init__(self, intercept_penalty: float = 0.01, slope_penalty: float = 1.0):
        self.intercept_penalty = intercept_penalty
        self.slope_penalty = slope_penalty
        self.algorithms: list[str] = []
        self.coefficients: np.ndarray | None = None

    def _design(self, alg_name: str, size: SplitSize) -> np.ndarray:
        n_alg = len(self.algorithms)
        x = np.zeros(4 + 2 * n_alg)
        features = size.features()
        x[:4] = (1.0, *features)
        if alg_name in self.algorithms:
            k = self.algorithms.index(alg_name)
            x[4 + k] = 1.0
            x[4 + n_alg + k] = features[0]
        return x

    def fit(self, measurements: list[Measurement]) -> "CostModel":
        measurements = [m for m in measurements if m.seconds > 0]
        if not measurements:
            raise ValueError("no measured samples to fit the cost model on")
        self.algorithms = sorted({m.alg_name for m in measurements})
        n_alg = len(self.algorithms)
        rows = [self._design(m.alg_name, m.size) for m in measurements]
        targets = [math.log(m.seconds) for m in measurements]
        # ridge rows: a_alg and b_alg pulled towards 0 (the shared model)
        for k in range(n_alg):
            for offset, penalty in ((4, self.intercept_penalty), (4 + n_alg, self.slope_penalty)):
                row = np.zeros(4 + 2 * n_alg)
                row[offset + k] = math.sqrt(penalty)
                rows.append(row)
                targets.append(0.0)
        # a weak pull of the shared size slopes towards 0 keeps them defined when all splits are alike
        for index in (1, 2, 3):
            row = np.zeros(4 + 2 * n_alg)
            row[index] = 1e-3
            rows.append(row)
            targets.append(0.0)
        self.coefficients, *_ = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)
        return self

    def sample_seconds(self, alg_name: str, size: SplitSize) -> float:
        """Projected seconds of one sample of ``alg_name`` on a split of this size."""
        if self.coefficients is None:
            raise ValueError("the cost model is not fitted")
        return float(math.exp(self._design(alg_name, size) @ self.coefficients))

    def experiment_seconds(self, alg_name: str, size: SplitSize, samples: int, time_limit: float,
                           overhead: float) -> float:
        """Projected seconds of one experiment: overhead plus its samples, the samples capped by the time limit."""
        return overhead + min(samples * self.sample_seconds(alg_name, size), time_limit)


OVERHEAD_PREFIX = "# process_overhead_seconds: "


def read_table(path: Path) -> tuple[list[Measurement], float | None]:
    """Measurements from a CSV with ``TABLE_COLUMNS`` (the shipped table, or one a benchmark wrote),
    and the per-experiment process overhead it records (``None`` when it records none)."""
    overhead = None
    with open(path, newline="", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        if line.startswith(OVERHEAD_PREFIX):
            overhead = float(line.removeprefix(OVERHEAD_PREFIX))
    rows = csv.DictReader(line for line in lines if not line.startswith("#"))
    measurements = [Measurement(row["alg_name"], SplitSize(int(row["n_users"]), int(row["n_items"]),
                                                           int(row["n_interactions"])), float(row["seconds_per_sample"]))
                    for row in rows]
    return measurements, overhead


def write_table(path: Path, measurements: list[Measurement], overhead: float, comment: str) -> None:
    """Write what ``read_table`` reads: ``comment``, the overhead, then the measurements."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(f"# {comment}\n{OVERHEAD_PREFIX}{overhead:.3g}\n")
        writer = csv.writer(handle)
        writer.writerow(TABLE_COLUMNS)
        for m in measurements:
            writer.writerow([m.alg_name, m.size.n_users, m.size.n_items, m.size.n_interactions, f"{m.seconds:.6g}"])


@dataclass(frozen=True)
class Price:
    """Dollars per VM-hour of one machine type."""

    machine_type: str
    standard: float
    spot: float

    def per_hour(self, provisioning: str) -> float:
        return self.spot if provisioning == "SPOT" else self.standard


def read_prices(path: Path = PRICES_FILE) -> dict[str, Price]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["machine_type"]: Price(row["machine_type"], float(row["standard_usd_per_hour"]),
                                           float(row["spot_usd_per_hour"])) for row in rows}
