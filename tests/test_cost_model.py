"""The cost model behind ESTIMATE=1: fit, projection, price table, and the estimate command."""

import math
import os
import re
import subprocess
from pathlib import Path

import pytest

from Experiment_handler.cost_model import CostModel, Measurement, SplitSize, read_prices, read_table, write_table
from Experiment_handler.estimate_cost import estimate, inbox_measurements, samples_run
from tests.conftest import run_module

REPO = Path(__file__).resolve().parents[1]
SIZES = [SplitSize(300, 200, 5_000), SplitSize(2_000, 1_000, 55_000), SplitSize(20_000, 8_000, 800_000),
         SplitSize(5_000, 3_000, 120_000)]


def power_law(alg: str, size: SplitSize) -> float:
    """Ground truth: alg A is linear in interactions, alg B grows as their square root."""
    return 2e-6 * size.n_interactions if alg == "A" else 1e-3 * math.sqrt(size.n_interactions)


def test_fit_recovers_each_algorithms_scaling():
    # 3 samples per split and algorithm, as a batch measures them; the ridge pull towards the
    # shared slope costs a few percent, and more far outside the measured sizes
    model = CostModel().fit([Measurement(alg, size, power_law(alg, size))
                             for alg in "AB" for size in SIZES for _ in range(3)])
    new = SplitSize(100_000, 20_000, 5_000_000)  # 6x the largest measured split
    for alg in "AB":
        assert model.sample_seconds(alg, new) == pytest.approx(power_law(alg, new), rel=0.1)
        for size in SIZES:
            assert model.sample_seconds(alg, size) == pytest.approx(power_law(alg, size), rel=0.05)


def test_unmeasured_algorithm_gets_the_shared_model_between_the_measured_ones():
    model = CostModel().fit([Measurement(alg, size, power_law(alg, size)) for alg in "AB" for size in SIZES])
    size = SplitSize(2_000, 1_000, 55_000)
    low, high = sorted([model.sample_seconds("A", size), model.sample_seconds("B", size)])
    assert low <= model.sample_seconds("never-measured", size) <= high


def test_algorithm_measured_on_one_size_keeps_its_level_and_scales_up():
    measurements = [Measurement("A", size, power_law("A", size)) for size in SIZES]
    measurements.append(Measurement("C", SIZES[0], 0.5))
    model = CostModel().fit(measurements)
    assert model.sample_seconds("C", SIZES[0]) == pytest.approx(0.5, rel=0.05)
    # no slope of its own is measured: it grows with the size as the shared model does (here A's
    # linear one, 160x), to within a factor 3 (its ridge-shrunk slope also absorbs some of its level)
    ratio = model.sample_seconds("C", SIZES[2]) / model.sample_seconds("C", SIZES[0])
    expected = SIZES[2].n_interactions / SIZES[0].n_interactions
    assert expected / 3 < ratio < expected * 3


def test_experiment_time_is_capped_by_the_time_limit_and_fit_needs_data():
    model = CostModel().fit([Measurement("A", size, power_law("A", size)) for size in SIZES])
    size = SIZES[1]
    per_sample = model.sample_seconds("A", size)
    assert model.experiment_seconds("A", size, 10, 1e9, 7.0) == pytest.approx(7.0 + 10 * per_sample)
    assert model.experiment_seconds("A", size, 10, per_sample, 7.0) == pytest.approx(7.0 + per_sample)
    with pytest.raises(ValueError, match="no measured samples"):
        CostModel().fit([])


def test_samples_are_capped_by_the_algorithms_distinct_configurations():
    assert samples_run("TopPop", 100) == 1
    assert samples_run("ItemKNNCF_cosine", 100) == 100
    assert samples_run("not-in-the-registry", 7) == 7


def test_estimate_table_sums_by_hand(monkeypatch):
    model = CostModel().fit([Measurement(alg, size, power_law(alg, size)) for alg in "AB" for size in SIZES])
    experiments = [("A", "d1", Path("s1")), ("A", "d2", Path("s2")), ("B", "d1", Path("s1"))]
    sizes = {Path("s1"): SIZES[0], Path("s2"): SIZES[1]}
    monkeypatch.setattr("Experiment_handler.estimate_cost.split_size", sizes.__getitem__)
    rows = estimate(experiments, model, 4, 1e9, 10.0, 0.5)
    expected = {alg: sum(10.0 + 4 * model.sample_seconds(alg, sizes[path]) for a, _, path in experiments if a == alg)
                for alg in "AB"}
    assert rows[0] == ["algorithm", "experiments", "samples", "VM-hours", "cost USD"]
    assert rows[1] == ["A", "2", "8", f"{expected['A'] / 3600:.3f}", f"{expected['A'] / 3600 * 0.5:.2f}"]
    assert rows[2] == ["B", "1", "4", f"{expected['B'] / 3600:.3f}", f"{expected['B'] / 3600 * 0.5:.2f}"]
    total = expected["A"] + expected["B"]
    assert rows[3] == ["TOTAL", "3", "12", f"{total / 3600:.3f}", f"{total / 3600 * 0.5:.2f}"]


def test_tables_round_trip_and_shipped_files_read(tmp_path):
    measurements = [Measurement("A", SIZES[0], 0.25), Measurement("B", SIZES[1], 1.5)]
    write_table(tmp_path / "t.csv", measurements, 4.5, "test table")
    assert read_table(tmp_path / "t.csv") == (measurements, 4.5)
    shipped, overhead = read_table(REPO / "Experiment_handler/cost_table.csv")
    assert len(shipped) > 50 and overhead > 0
    prices = read_prices()
    assert prices["n1-highmem-2"].per_hour("SPOT") < prices["n1-highmem-2"].per_hour("STANDARD")


def test_inbox_measurements_read_real_result_zips(small_split, tmp_path):
    result = run_module("Experiment_handler.run_experiment", 60, "SyntheticSmall", "DataSplitter_leave_k_out_last",
                        "ItemKNNCF_cosine", small_split, 0, 0, 2, tmp_path / "r", "cost-test", "x")
    assert result.returncode == 0, result.stderr
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "r/result.zip").rename(inbox / "result_a.zip")
    (inbox / "result_damaged.zip").write_bytes(b"not a zip")
    measured = inbox_measurements(inbox)
    assert len(measured) == 2 and {m.alg_name for m in measured} == {"ItemKNNCF_cosine"}
    assert all(m.size == SplitSize(300, 200, 5014) and m.seconds > 0 for m in measured)


def test_estimate_one_batch_script_prices_and_runs_nothing(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("RECZILLA_")}
    env.update(PATH=f"{REPO / '.venv/bin'}:{os.environ['PATH']}", ESTIMATE="1", ALGORITHMS="TopPop ItemKNNCF_cosine",
               DATASETS="SyntheticSmall", NUM_SAMPLES="10", TIME_LIMIT="600", WORK_DIR=str(tmp_path / "w"),
               RECZILLA_BUCKET=str(tmp_path / "bucket"), RECZILLA_PRICE_PER_HOUR="2.0")
    result = subprocess.run(["bash", str(REPO / "scripts/example_local_script.sh")], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "$2.0000/VM-hour (--price-per-hour)" in result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if re.match(r"^(TopPop|ItemKNNCF_cosine|TOTAL) ", line)}
    assert rows["TopPop"][1:3] == ["1", "1"] and rows["ItemKNNCF_cosine"][1:3] == ["1", "10"]
    assert float(rows["TOTAL"][4]) == pytest.approx(float(rows["TOTAL"][3]) * 2.0, abs=0.011)
    assert "projection only: nothing was run" in result.stdout
    assert not (tmp_path / "bucket/inbox").exists() and not (tmp_path / "bucket/dataset-splits").exists()

    env.pop("RECZILLA_PRICE_PER_HOUR")
    env.update(RECZILLA_BACKEND="gcloud-batch", RECZILLA_BUCKET=str(tmp_path / "bucket"))
    bad = subprocess.run(["bash", str(REPO / "scripts/example_local_script.sh")], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "RECZILLA_BUCKET must be a gs:// bucket" in bad.stderr
