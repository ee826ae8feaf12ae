"""process_inbox on zips of real run_experiment runs, and on damaged or malicious zips."""

import json
import math
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from Experiment_handler.process_inbox import METRIC_COLUMN, TRAILING_COLUMNS
from Experiment_handler.result_zip import ResultZipError, read_result_metadata
from Experiment_handler.result_zip_validation import SEARCH_PARAMS, validate_metadata
from tests.conftest import run_module

SPLIT = "DataSplitter_leave_k_out_last"
# (zip name, command module, algorithm, num_samples, time_limit, extra environment)
RUNS = (
    ("result_a_toppop.zip", "Experiment_handler.run_experiment", "TopPop", 1, 60, {}),
    ("result_b_itemknn.zip", "Experiment_handler.run_experiment", "ItemKNNCF_cosine", 3, 60, {}),
    ("result_c_random.zip", "Experiment_handler.run_experiment", "Random", 1, 60, {}),
    ("result_d_slow.zip", "tests.slow_algorithm", "SlowTopPop", 40, 4, {}),
    ("result_e_memory.zip", "Experiment_handler.run_experiment", "GlobalEffects", 1, 60,
     {"RECZILLA_MEMORY_LIMIT": "1K"}),
)


@pytest.fixture(scope="module")
def inbox(small_split, tmp_path_factory) -> Path:
    """An inbox of result zips: several algorithms, one stopped by its time limit, one failing sample."""
    root = tmp_path_factory.mktemp("runs")
    folder = root / "inbox"
    folder.mkdir()
    for name, module, alg, samples, time_limit, env in RUNS:
        result_dir = root / name
        result = run_module(module, time_limit, "SyntheticSmall", SPLIT, alg, small_split, 0, 1, samples,
                            result_dir, f"exp-{alg}", "gs://bucket/split", env=env)
        assert result.returncode == 0, result.stderr
        shutil.copy(result_dir / "result.zip", folder / name)
    (folder / "logs").mkdir()  # the bucket's log folder: not a result
    (folder / "notes.txt").write_text("not a result")
    return folder


@pytest.fixture(scope="module")
def processed(inbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "meta"
    result = run_module("Experiment_handler.process_inbox", inbox, out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(f"{out}.csv", keep_default_na=False, na_values=[""])
    return out, table, result.stdout


def metadata_by_zip(inbox: Path) -> dict[str, dict]:
    return {name: read_result_metadata(inbox / name) for name, *_ in RUNS}


def test_runs_cover_the_cases(inbox):
    metadata = metadata_by_zip(inbox)
    slow = metadata["result_d_slow.zip"]
    assert slow["status"] == "time_limit" and 1 <= len(slow["samples"]) < 40
    failed = metadata["result_e_memory.zip"]["samples"][0]
    assert failed["exception"].startswith("MemoryEstimateExceeded")
    assert len(metadata["result_b_itemknn.zip"]["samples"]) == 3


def test_rows_columns_and_values_equal_the_zips(inbox, processed):
    out, table, _ = processed
    metadata = metadata_by_zip(inbox)
    assert len(table) == sum(len(m["samples"]) for m in metadata.values())

    expected_columns = set(SEARCH_PARAMS) | {"sample_number", "hyperparameters_source", *TRAILING_COLUMNS}
    for m in metadata.values():
        expected_columns |= set(m["dataset_features"])
        for sample in m["samples"]:
            expected_columns |= {f"param_{name}" for name in sample["hyperparameters"]}
            for prefix, key in (("test", "result_on_test"), ("val", "result_on_validation")):
                for cutoff, metrics in (sample[key] or {}).items():
                    expected_columns |= {f"{prefix}_metric_{metric}_cut_{cutoff}" for metric in metrics}
    assert set(table.columns) == expected_columns
    columns = list(table.columns)
    assert columns[: len(SEARCH_PARAMS)] == list(SEARCH_PARAMS)
    assert columns[-len(TRAILING_COLUMNS):] == list(TRAILING_COLUMNS)
    assert sum(c.startswith("f_") for c in columns) == 383
    metric_columns = [c for c in columns if METRIC_COLUMN.match(c)]
    assert len(metric_columns) == 2 * 22 * 15
    assert metric_columns[:2] == ["test_metric_ARHR_ALL_HITS_cut_1", "test_metric_ARHR_ALL_HITS_cut_2"]

    rows = {(row["result_file"], row["sample_number"]): row for row in table.to_dict("records")}
    for name, m in metadata.items():
        for sample in m["samples"]:
            row = rows[(name, sample["sample_number"])]
            for key in SEARCH_PARAMS:
                value = m["search_params"][key]
                assert row[key] == (json.dumps(value) if isinstance(value, list) else value), key
            for feature, value in m["dataset_features"].items():
                assert row[feature] == value, feature
            for param, value in sample["hyperparameters"].items():
                assert row[f"param_{param}"] == value
            assert row["hyperparameters_source"] == sample["hyperparameters_source"]
            for key in ("package_version", "git_commit", "scikit_learn"):  # the code that made the row
                assert row[key] == m["environment"][key] and row[key], key
            for prefix, key in (("test", "result_on_test"), ("val", "result_on_validation")):
                for cutoff, metrics in (sample[key] or {}).items():
                    for metric, value in metrics.items():
                        assert row[f"{prefix}_metric_{metric}_cut_{cutoff}"] == value
            for column, key in (("time_on_train", "time_on_train"), ("time_on_val", "time_on_validation"),
                                ("time_on_test", "time_on_test")):
                assert (row[column] == sample[key]) or (sample[key] is None and math.isnan(row[column]))
            if sample["exception"] is None:
                assert isinstance(row["exception"], float) and math.isnan(row["exception"])
                assert 0 <= row["val_metric_NDCG_cut_10"] <= 1  # validation metrics are filled in
            else:
                assert row["exception"] == sample["exception"]
                assert math.isnan(row["test_metric_NDCG_cut_10"])

    keys = [(r["dataset_name"], r["split_name"], r["alg_name"], r["result_file"], r["sample_number"])
            for r in table.to_dict("records")]
    assert keys == sorted(keys)


def test_parquet_holds_the_same_table(processed):
    out, table, _ = processed
    parquet = pd.read_parquet(f"{out}.parquet")
    assert list(parquet.columns) == list(table.columns)
    pd.testing.assert_frame_equal(parquet.astype(object).where(parquet.notna(), None),
                                  table.astype(object).where(table.notna(), None), check_dtype=False)


def test_summary(inbox, processed):
    _, table, stdout = processed
    n_rows = len(table)
    assert f"{n_rows} rows, 1 datasets, 5 algorithms, 1 failed samples" in stdout
    ok = table[table["exception"].isna()]
    best = ok.loc[ok["test_metric_NDCG_cut_10"].idxmax()]
    assert (f"SyntheticSmall / {SPLIT}: {best['alg_name']} (sample {best['sample_number']}, "
            f"{best['hyperparameters_source']}) {best['test_metric_NDCG_cut_10']:.6g}") in stdout


def test_same_inbox_same_bytes_and_metric_option(inbox, processed, tmp_path):
    out, table, _ = processed
    result = run_module("Experiment_handler.process_inbox", inbox, tmp_path / "again", "--metric",
                        "val_metric_RECALL_cut_5")
    assert result.returncode == 0, result.stderr
    assert "best algorithm per dataset by val_metric_RECALL_cut_5 (highest):" in result.stdout
    for suffix in (".csv", ".parquet"):
        assert Path(f"{out}{suffix}").read_bytes() == (tmp_path / f"again{suffix}").read_bytes()

    bad = run_module("Experiment_handler.process_inbox", inbox, tmp_path / "x", "--metric", "NDCG")
    assert bad.returncode == 2 and "--metric must name a metric column" in bad.stderr
    assert not (tmp_path / "x.csv").exists()


def test_gs_inbox_is_synced_with_gcloud_storage_or_gsutil(inbox, processed, tmp_path):
    bucket = tmp_path / "gcs"
    shutil.copytree(inbox, bucket / "my-bucket" / "inbox")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gsutil = bin_dir / "gsutil"
    # stand-in: `gsutil -m rsync gs://B/P DEST` copies the top-level files of $FAKE_GCS/B/P, logs its call
    gsutil.write_text(
        '#!/bin/sh\necho "$@" >> "$FAKE_GCS/calls"\n'
        '[ "$1 $2" = "-m rsync" ] || exit 3\n'
        'src="$FAKE_GCS/${3#gs://}"\n[ -d "$src" ] || { echo "CommandException: no $3" >&2; exit 1; }\n'
        'find "$src" -maxdepth 1 -type f -exec cp {} "$4" \\;\n'
    )
    gsutil.chmod(gsutil.stat().st_mode | stat.S_IEXEC)
    # gsutil alone (RECZILLA_STORAGE_CLI=gsutil: this machine may have a real gcloud on PATH)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_GCS": str(bucket),
           "RECZILLA_STORAGE_CLI": "gsutil"}
    result = run_module("Experiment_handler.process_inbox", "gs://my-bucket/inbox", tmp_path / "gs", env=env)
    assert result.returncode == 0, result.stderr
    assert (bucket / "calls").read_text().startswith("-m rsync gs://my-bucket/inbox ")
    out, _, _ = processed
    assert (tmp_path / "gs.csv").read_bytes() == Path(f"{out}.csv").read_bytes()

    missing = run_module("Experiment_handler.process_inbox", "gs://my-bucket/none", tmp_path / "n", env=env)
    assert missing.returncode == 1 and "gsutil -m rsync gs://my-bucket/none failed" in missing.stderr
    assert missing.stderr.count("\n") == 1

    # gcloud on PATH: `gcloud storage rsync` is preferred; RECZILLA_STORAGE_CLI=gsutil forces gsutil
    gcloud = bin_dir / "gcloud"
    gcloud.write_text('#!/bin/sh\necho "gcloud $@" >> "$FAKE_GCS/calls"\n[ "$1 $2" = "storage rsync" ] || exit 3\n'
                      'find "$FAKE_GCS/${3#gs://}" -maxdepth 1 -type f -exec cp {} "$4" \\;\n')
    gcloud.chmod(gcloud.stat().st_mode | stat.S_IEXEC)
    (bucket / "calls").unlink()
    env["RECZILLA_STORAGE_CLI"] = "auto"
    result = run_module("Experiment_handler.process_inbox", "gs://my-bucket/inbox", tmp_path / "gc", env=env)
    assert result.returncode == 0, result.stderr
    assert (bucket / "calls").read_text().startswith("gcloud storage rsync gs://my-bucket/inbox ")
    assert (tmp_path / "gc.csv").read_bytes() == Path(f"{out}.csv").read_bytes()
    result = run_module("Experiment_handler.process_inbox", "gs://my-bucket/inbox", tmp_path / "gs2",
                        env={**env, "RECZILLA_STORAGE_CLI": "gsutil"})
    assert result.returncode == 0 and (bucket / "calls").read_text().splitlines()[-1].startswith("-m rsync")


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            archive.writestr(info, data)


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def test_damaged_and_malicious_zips_are_reported_and_skipped(inbox, tmp_path):
    good = (inbox / "result_a_toppop.zip").read_bytes()
    metadata = read_result_metadata(inbox / "result_a_toppop.zip")
    valid_json = json.dumps(metadata).encode()
    folder = tmp_path / "work" / "inbox"
    folder.mkdir(parents=True)
    (folder / "result_good.zip").write_bytes(good)
    _zip(folder / "result_slip.zip", [("metadata.json", valid_json), ("../../evil.txt", b"x")])
    _zip(folder / "result_absolute.zip", [("metadata.json", valid_json), (zipfile.ZipInfo("/tmp/evil.txt"), b"x")])
    _zip(folder / "result_symlink.zip", [("metadata.json", valid_json), (_symlink_info("link"), b"/etc/passwd")])
    (folder / "result_truncated.zip").write_bytes(good[: len(good) // 2])
    _zip(folder / "result_badjson.zip", [("metadata.json", b'{"schema_version": 1, "status": ')])
    _zip(folder / "result_schema2.zip", [("metadata.json", json.dumps({**metadata, "schema_version": 2}).encode())])
    broken_sample = json.loads(valid_json)
    del broken_sample["samples"][0]["exception"]
    _zip(folder / "result_fields.zip", [("metadata.json", json.dumps(broken_sample).encode())])
    (folder / "result_text.zip").write_text("not a zip at all")
    _zip(folder / "result_foreign.zip", [("other.txt", b"hello")])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    result = run_module("Experiment_handler.process_inbox", folder, tmp_path / "work" / "table")
    assert result.returncode == 0, result.stderr
    reasons = {
        "result_slip.zip": "leaves the extraction folder",
        "result_absolute.zip": "has an absolute path",
        "result_symlink.zip": "is a symlink",
        "result_truncated.zip": "not a readable zip",
        "result_badjson.zip": "not valid JSON",
        "result_schema2.zip": "schema_version 2, expected 1",
        "result_fields.zip": "samples[0]: missing exception",
        "result_text.zip": "not a readable zip",
        "result_foreign.zip": "no metadata.json inside",
    }
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(reasons)
    for name, reason in reasons.items():
        assert any(line.startswith(f"skipped {name}: ") and reason in line for line in skipped), name
    assert f"skipped {len(reasons)} damaged or foreign zips" in result.stdout
    table = pd.read_csv(tmp_path / "work" / "table.csv")
    assert list(table["result_file"]) == ["result_good.zip"]

    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert sorted(set(after) - set(before)) == [Path("work/table.csv"), Path("work/table.parquet")]
    assert not Path("/tmp/evil.txt").exists()


def test_empty_and_missing_inbox(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_module("Experiment_handler.process_inbox", tmp_path / "empty", tmp_path / "out" / "t")
    assert result.returncode == 0, result.stderr
    assert "0 rows, 0 datasets, 0 algorithms, 0 failed samples" in result.stdout
    assert list(pd.read_csv(tmp_path / "out" / "t.csv").columns)[: len(SEARCH_PARAMS)] == list(SEARCH_PARAMS)

    missing = run_module("Experiment_handler.process_inbox", tmp_path / "nowhere", tmp_path / "t")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"process_inbox: error: inbox {tmp_path / 'nowhere'} is not a folder"


@pytest.mark.parametrize("damage, reason", [
    (lambda m: m.update(status="running"), "status 'running' is not one of"),
    (lambda m: m["search_params"].pop("split_checksum"), "search_params lacks split_checksum"),
    (lambda m: m["search_params"].update(alg_name={"nested": 1}), "search_params.alg_name is not a plain value"),
    (lambda m: m["dataset_features"].update(f_x="high"), "dataset feature 'f_x' must start with 'f_'"),
    (lambda m: m["dataset_features"].update(x=1.0), "dataset feature 'x' must start with 'f_'"),
    (lambda m: m["samples"][0]["result_on_test"]["10"].update(NDCG="0.5"), "[10][NDCG]: '0.5' is not a number"),
    (lambda m: m["samples"][0]["result_on_test"].update(ten={}), "cutoff 'ten' must be a positive integer"),
    (lambda m: m["samples"][0].update(time_on_train="1s"), "time_on_train: '1s' is not a number or null"),
    (lambda m: m["samples"][0].update(sample_number=True), "sample_number: True is not an integer"),
    (lambda m: m["samples"][0]["hyperparameters"].update(k=[1]), "hyperparameters: expected an object"),
    (lambda m: m["samples"].append(dict(m["samples"][0])), "sample_number 0 appears twice"),
    (lambda m: m.update(samples={}), "samples is missing or not a list"),
])
def test_metadata_schema_checks(inbox, damage, reason):
    metadata = read_result_metadata(inbox / "result_a_toppop.zip")
    assert validate_metadata(metadata) is metadata
    damage(metadata)
    with pytest.raises(ResultZipError) as caught:
        validate_metadata(metadata)
    assert reason in str(caught.value)


def test_same_result_under_two_names_is_kept_once(inbox, processed, tmp_path):
    """Before: 3 samples copied under a second name gave 6 rows, silently."""
    copy = tmp_path / "inbox"
    shutil.copytree(inbox, copy)
    shutil.copy(copy / "result_b_itemknn.zip", copy / "result_z_again.zip")
    result = run_module("Experiment_handler.process_inbox", copy, tmp_path / "meta")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: result_z_again.zip repeats 3 sample(s) of result_b_itemknn.zip (same dataset, split checksum, "
        "algorithm, seeds, exclude_seen and sample number); kept those of result_b_itemknn.zip"]
    table = pd.read_csv(tmp_path / "meta.csv", keep_default_na=False, na_values=[""])
    _, original, _ = processed
    assert len(table) == len(original)
    assert "result_z_again.zip" not in set(table["result_file"])
    assert (tmp_path / "meta.csv").read_bytes() == Path(f"{processed[0]}.csv").read_bytes()


def test_identity_keeps_samples_that_differ_in_any_identity_field():
    from Experiment_handler.process_inbox import SAMPLE_IDENTITY, drop_repeated_samples

    base = {key: 0 for key in SAMPLE_IDENTITY} | {"result_file": "result_a.zip"}
    variants = [base | {key: 1, "result_file": f"result_{key}.zip"} for key in SAMPLE_IDENTITY]
    repeat = base | {"result_file": "result_b.zip", "time_on_train": 9.0}  # same sample, other timing
    kept, warnings = drop_repeated_samples([base, *variants, repeat])
    assert kept == [base, *variants]
    assert len(warnings) == 1 and warnings[0].startswith("warning: result_b.zip repeats 1 sample(s) of result_a.zip")
