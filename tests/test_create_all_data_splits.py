import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from Data_manager import create_all_data_splits as cli
from Data_manager.cli_errors import CommandLineError, UsageError, failure_detail, run_cli
from Data_manager.dataset_format import Dataset, load_dataset
from Data_manager.datasets import (
    DATASETS,
    DatasetEntry,
    UnknownDataset,
    canonical_dataset_name,
    default_dataset_names,
    load_prepared_dataset,
    prepare_dataset,
)
from Data_manager.split_format import load_split
from Data_manager.splitters import SPLITTERS, DataSplitter_leave_k_out_last
from Data_manager.synthetic import generate_synthetic

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
SPLITTER_NAMES = list(SPLITTERS)


def _run(*args, env=None):
    return subprocess.run(
        [str(PYTHON), "-m", "Data_manager.create_all_data_splits", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120,
    )


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- registry ---------------------------------------------------------------

def test_canonical_names():
    assert canonical_dataset_name("SyntheticSmall") == "SyntheticSmall"
    assert canonical_dataset_name("SyntheticSmallReader") == "SyntheticSmall"
    # a name differing only in case is the registry's name (issue 11); a near miss gets a suggestion
    assert canonical_dataset_name("Movielens100Kreader") == "Movielens100K"
    assert canonical_dataset_name("movielens100k") == "Movielens100K"
    assert canonical_dataset_name("SYNTHETICSMALLREADER") == "SyntheticSmall"
    with pytest.raises(UnknownDataset) as error:
        canonical_dataset_name("Movielen100K")
    message = str(error.value)
    assert "\n" not in message and "did you mean Movielens100K " in message and "SyntheticSmall, Synthetic" in message
    with pytest.raises(UnknownDataset, match="unknown dataset 'Nothing' \\(valid names"):
        canonical_dataset_name("Nothing")


def test_registry_entries():
    small = DATASETS["SyntheticSmall"]
    assert (small.family, small.size_class, small.in_default_set) == ("synthetic", "small", True)
    assert DATASETS["SyntheticLarge"].size_class == "medium"
    assert default_dataset_names()[:2] == ["SyntheticSmall", "Synthetic"]  # then every downloaded dataset
    with pytest.raises(ValueError, match="Reader"):
        DatasetEntry("FooReader", "x", "small", lambda data_dir: None)


def test_prepare_dataset_keeps_valid_and_replaces_damaged(tmp_path):
    folder = prepare_dataset("SyntheticSmallReader", tmp_path)
    assert folder == tmp_path / "SyntheticSmall"
    created = (folder / "dataset.json").read_text()
    assert prepare_dataset("SyntheticSmall", tmp_path) == folder
    assert (folder / "dataset.json").read_text() == created  # kept, not rewritten
    loaded = load_prepared_dataset("SyntheticSmall", tmp_path)
    assert np.array_equal(loaded.URM_all.indices, generate_synthetic("SyntheticSmall").URM_all.indices)
    (folder / "URM_all.npz").write_bytes(b"damaged")
    prepare_dataset("SyntheticSmall", tmp_path)
    assert load_dataset(folder).URM_all.nnz == loaded.URM_all.nnz


# --- CLI helper -------------------------------------------------------------

def test_run_cli_exit_codes(capsys, monkeypatch):
    def failing(error):
        def main(argv):
            raise error
        return main

    monkeypatch.delenv("RECZILLA_DEBUG", raising=False)
    assert run_cli(lambda argv: 0, prog="p") == 0
    assert run_cli(failing(UsageError("bad\nargument")), prog="p") == 2
    assert capsys.readouterr().err == "p: error: bad argument\n"
    assert run_cli(failing(UnknownDataset("unknown dataset 'x'")), prog="p", usage_errors=(UnknownDataset,)) == 2
    assert capsys.readouterr().err == "p: error: unknown dataset 'x'\n"
    assert run_cli(failing(CommandLineError("split.json: not valid JSON")), prog="p") == 1
    assert capsys.readouterr().err == "p: error: split.json: not valid JSON\n"
    assert run_cli(failing(OSError("disk full")), prog="p", errors=(OSError,)) == 1
    assert capsys.readouterr().err == "p: error: disk full\n"
    assert run_cli(failing(KeyboardInterrupt()), prog="p") == 130
    assert capsys.readouterr().err == "p: interrupted\n"
    assert run_cli(failing(RuntimeError("boom")), prog="p") == 1
    err = capsys.readouterr().err
    assert err.startswith("p: error: RuntimeError: boom") and "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setenv("RECZILLA_DEBUG", "1")
    assert run_cli(failing(RuntimeError("boom")), prog="p") == 1
    assert "Traceback" in capsys.readouterr().err


def test_failure_detail_is_one_line_and_shows_the_traceback_only_in_debug(capsys, monkeypatch):
    try:
        raise ValueError("bad\nvalue")
    except ValueError as caught:
        error = caught
    monkeypatch.delenv("RECZILLA_DEBUG", raising=False)
    assert failure_detail(error) == "ValueError: bad value"
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RECZILLA_DEBUG", "1")
    assert failure_detail(error) == "ValueError: bad value"
    assert "Traceback" in capsys.readouterr().err


# --- the command, end to end ------------------------------------------------

def test_end_to_end_then_rerun_skips(tmp_path):
    data, splits = tmp_path / "data", tmp_path / "splits"
    first = _run("--data-dir", data, "--splits-dir", splits, "--datasets", "SyntheticSmallReader")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("SUCCESS") == 3 and "3 written, 0 already present, 0 skipped, 0 failed" in first.stdout
    for name in SPLITTER_NAMES:
        split = load_split(splits / "SyntheticSmall" / name)
        assert split.info["dataset_name"] == "SyntheticSmall" and split.info["splitter_name"] == name
    before = _snapshot(splits)
    again = _run("--data-dir", data, "--splits-dir", splits, "--datasets", "SyntheticSmall")
    assert again.returncode == 0 and again.stdout.count("EXISTS") == 3
    assert _snapshot(splits) == before

    # a damaged split is rewritten, identical to the first one; the others are kept
    damaged = splits / "SyntheticSmall" / "DataSplitter_leave_k_out_random" / "URM_test.npz"
    damaged.write_bytes(b"x")
    third = _run("--data-dir", data, "--splits-dir", splits, "--datasets", "SyntheticSmall")
    assert third.returncode == 0 and third.stdout.count("EXISTS") == 2 and third.stdout.count("SUCCESS") == 1
    assert _snapshot(splits) == before


@pytest.mark.parametrize("args, names", [
    (["--datasets", "NoSuchData"], "SyntheticSmall"),
    (["--splitters", "DataSplitter_leave_k_out"], "DataSplitter_leave_k_out_last"),
])
def test_unknown_names_exit_2_with_one_line(tmp_path, args, names):
    result = _run("--data-dir", tmp_path / "d", "--splits-dir", tmp_path / "s", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and names in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("option", ["--data-dir", "--splits-dir"])
def test_folder_option_that_is_a_file_is_one_usage_error(tmp_path, option):
    (tmp_path / "file").write_text("not a folder")
    folders = {"--data-dir": tmp_path / "d", "--splits-dir": tmp_path / "s", option: tmp_path / "file" / "below"}
    result = _run(*[part for pair in folders.items() for part in pair], "--datasets", "SyntheticSmall")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"create_all_data_splits: error: {option} {tmp_path / 'file' / 'below'}: "
                             f"{tmp_path / 'file'} is a file, not a folder\n")


def test_list_needs_no_folders():
    result = _run("--list")
    assert result.returncode == 0
    assert "SyntheticLarge" in result.stdout and "DataSplitter_global_timestamp" in result.stdout


class _BrokenSplitter(DataSplitter_leave_k_out_last):
    def _assign(self, dataset):
        raise RuntimeError("split exploded")


def _no_timestamps(data_dir):
    URM = sp.csr_matrix(np.tile(np.array([[1, 2, 3, 4, 0]], np.float32), (12, 1)))
    return Dataset("NoTimes", URM, [str(u) for u in range(12)], [str(i) for i in range(5)])


def test_failure_is_reported_and_run_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(SPLITTERS, "DataSplitter_leave_k_out_last", _BrokenSplitter)
    monkeypatch.setitem(DATASETS, "NoTimes", DatasetEntry("NoTimes", "test", "small", _no_timestamps))
    code = cli.main(["--data-dir", str(tmp_path / "d"), "--splits-dir", str(tmp_path / "s"),
                     "--datasets", "NoTimes", "SyntheticSmall"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("FAILURE") == 2 and "RuntimeError: split exploded" in out
    assert "SKIPPED" in out and "NoTimes has no timestamps" in out
    assert "3 written, 0 already present, 1 skipped, 2 failed" in out
    assert sorted(p.name for p in (tmp_path / "s" / "SyntheticSmall").iterdir()) == [
        "DataSplitter_global_timestamp", "DataSplitter_leave_k_out_random"
    ]
    no_times = tmp_path / "s" / "NoTimes"
    assert json.loads((no_times / "DataSplitter_leave_k_out_random" / "split.json").read_text())["ordering"] == "random"
    assert sorted(p.name for p in no_times.iterdir()) == ["DataSplitter_leave_k_out_random"]


def test_module_runs_through_run_cli_without_traceback(tmp_path):
    result = _run("--data-dir", tmp_path / "d")
    assert result.returncode == 2 and result.stderr == (
        "create_all_data_splits: error: --data-dir and --splits-dir are required (unless --list)\n"
    )
