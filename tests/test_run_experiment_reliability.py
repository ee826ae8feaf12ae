"""run_experiment under hostile use: bad settings, kill -9, two commands at once, long searches."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from Data_manager.cli_errors import run_cli
from Experiment_handler.metafeatures import load_or_compute_metafeatures
from Experiment_handler import run_experiment
from Experiment_handler.experiment import RESUME_KEYS
from Experiment_handler.result_dir_lock import LOCK_NAME
from Experiment_handler.result_store import JOURNAL_NAME
from Experiment_handler.result_zip import MAX_SAMPLES, read_result_metadata, write_result_zip
from Experiment_handler.result_zip_validation import validate_result_zip
from tests.conftest import REPO_ROOT, run_module
from tests.test_run_experiment import experiment_args

SLOW = "tests.slow_algorithm"


def cli(argv, capsys) -> tuple[int, list[str]]:
    """Run run_experiment's command line in this process: exit code and stderr lines.
    Only for commands that stop before the search (the search forks, and pytest's process may
    hold OpenMP thread pools that a fork does not carry over)."""
    code = run_cli(run_experiment.main, [str(arg) for arg in argv], prog="run_experiment")
    return code, capsys.readouterr().err.strip().splitlines()


# --- settings are arguments: exit 2 before anything is written ---


@pytest.mark.parametrize("variable, value", [
    ("RECZILLA_MEMORY_LIMIT", "1MB"), ("RECZILLA_MEMORY_LIMIT", "abc"), ("RECZILLA_MEMORY_LIMIT", "0"),
    ("RECZILLA_MEMORY_LIMIT", "-5"), ("RECZILLA_MEMORY_LIMIT", "nan"), ("RECZILLA_MEMORY_LIMIT", "infG"),
    ("RECZILLA_THREADS", "abc"), ("RECZILLA_THREADS", "0"), ("RECZILLA_THREADS", "-2"),
    ("RECZILLA_EXCLUDE_SEEN", "maybe"),
])
def test_bad_environment_setting_is_a_usage_error(small_split, tmp_path, capsys, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    code, lines = cli(experiment_args(small_split, tmp_path / "out"), capsys)
    assert code == 2
    assert len(lines) == 1 and variable in lines[0] and repr(value) in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("position, value, named", [
    (5, -1, "alg_seed"), (5, 2**32, "alg_seed"), (6, -1, "param_seed"), (6, 2**32, "param_seed"),
    (0, "0", "time_limit"), (0, "-3", "time_limit"), (0, "nan", "time_limit"), (0, "inf", "time_limit"),
    (0, "soon", "time_limit"), (7, 0, "num_samples"), (7, MAX_SAMPLES + 1, f"between 1 and {MAX_SAMPLES}"),
])
def test_bad_argument_is_a_usage_error(small_split, tmp_path, capsys, position, value, named):
    args = experiment_args(small_split, tmp_path / "out")
    args[position] = value
    code, lines = cli(args, capsys)
    assert code == 2
    assert len(lines) == 1 and named in lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_memory_limit_is_not_recorded_as_failed_samples(small_split, tmp_path):
    """The issue's case, end to end: before, exit 0 with every sample a ValueError."""
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path / "out"),
                        env={"RECZILLA_MEMORY_LIMIT": "1MB"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "run_experiment: error: RECZILLA_MEMORY_LIMIT must be a positive number of bytes, optionally with a "
        "suffix K, M, G or T (e.g. 500M, 4G), got '1MB'"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("written, recorded", [("1e3", 1000), ("2.5e1", 25), ("1e300", 1e300)])
def test_time_limit_accepts_numbers(small_split, tmp_path, written, recorded):
    result = run_module("Experiment_handler.run_experiment", *experiment_args(small_split, tmp_path, time_limit=written))
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert metadata["status"] == "complete"
    assert metadata["search_params"]["time_limit"] == recorded


def test_result_dir_that_is_a_file_is_refused(small_split, tmp_path, capsys):
    target = tmp_path / "result"
    target.write_text("not a folder")
    code, lines = cli(experiment_args(small_split, target), capsys)
    assert code == 2
    assert lines == [f"run_experiment: error: result_dir {target} is not a folder"]
    assert target.read_text() == "not a folder"


def read_only(folder: Path) -> None:
    """Make ``folder`` unwritable, for root too (immutable attribute), or skip where that cannot be done."""
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            folder.chmod(0o755)
            pytest.skip("running as root where chattr +i is not available: cannot make a folder read-only")


def writable_again(folder: Path) -> None:
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def test_unwritable_result_dir_is_refused_before_the_search(small_split, tmp_path, capsys):
    target = tmp_path / "result"
    target.mkdir()
    read_only(target)
    try:
        code, lines = cli(experiment_args(small_split, target), capsys)
    finally:
        writable_again(target)
    assert code == 2
    assert len(lines) == 1 and f"result_dir {target} is not writable" in lines[0]
    assert list(target.iterdir()) == []


# --- one command per result_dir; the search dies with its command ---


def start_slow(args, env=None) -> subprocess.Popen:
    """Start the slow-algorithm command in its own session (so the test can kill exactly it)."""
    return subprocess.Popen([sys.executable, "-m", SLOW, *map(str, args)], cwd=REPO_ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for_log(result_dir: Path, text: str, timeout: float = 60) -> None:
    log = result_dir / "experiment.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {log}")


def processes_mentioning(text: str) -> list[int]:
    """Process ids whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def finished_samples(result_dir: Path) -> list[int]:
    log = (result_dir / "experiment.log").read_text()
    return [int(line.split("sample ")[1].split()[0]) for line in log.splitlines() if " done in " in line]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to list processes")
def test_kill_9_of_the_command_ends_the_search_and_a_rerun_resumes(small_split, tmp_path):
    load_or_compute_metafeatures(small_split)
    result_dir = tmp_path / "kill9"
    args = experiment_args(small_split, result_dir, alg="SlowTopPop", samples=8, time_limit=120)
    command = start_slow(args)
    wait_for_log(result_dir, "sample 1 done")
    os.kill(command.pid, signal.SIGKILL)  # the command only: the search has its own process group
    command.wait()
    deadline = time.monotonic() + 5
    while processes_mentioning(str(result_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(result_dir)) == []
    done_before = finished_samples(result_dir)
    validate_result_zip(result_dir / "result.zip")  # the zip left behind is valid
    result = run_module(SLOW, *args)
    assert result.returncode == 0, result.stderr
    metadata = validate_result_zip(result_dir / "result.zip")
    assert metadata["status"] == "complete"
    assert [sample["sample_number"] for sample in metadata["samples"]] == list(range(8))
    log = (result_dir / "experiment.log").read_text()
    runs = [log.count(f"sample {number} (") for number in range(8)]
    assert all(runs[number] == 1 for number in done_before)  # finished before the kill: kept, not rerun
    assert sum(runs) - 8 <= 1  # at most the sample in progress ran twice
    assert sorted(path.name for path in result_dir.iterdir()) == ["experiment.log", "result.zip", LOCK_NAME]


def test_second_command_into_a_busy_result_dir_refuses(small_split, tmp_path):
    load_or_compute_metafeatures(small_split)
    result_dir = tmp_path / "busy"
    args = experiment_args(small_split, result_dir, alg="SlowTopPop", samples=16, time_limit=120)
    first = start_slow(args)
    try:
        wait_for_log(result_dir, "sample 0 done")
        second = run_module(SLOW, *args)
        assert first.poll() is None, "the first command ended before the second was refused: test too slow"
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0, first.stderr.read()
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"slow_algorithm: error: result_dir {result_dir} is in use by process {first.pid}"]
    metadata = read_result_metadata(result_dir / "result.zip")
    assert [sample["sample_number"] for sample in metadata["samples"]] == list(range(16))
    log = (result_dir / "experiment.log").read_text()
    assert log.count("already finished") == 1  # the second command never started a search
    assert all(log.count(f"sample {number} (") == 1 for number in range(16))


# --- searches of any length ---


def run_ok(args) -> None:
    result = run_module("Experiment_handler.run_experiment", *args)
    assert result.returncode == 0, result.stderr


def test_rerun_with_another_num_samples_records_the_true_count(small_split, tmp_path):
    args = experiment_args(small_split, tmp_path, alg="ItemKNNCF_cosine", samples=3)
    run_ok(args)
    args[7] = 2  # fewer: nothing runs, nothing is lost, the count stays the true one
    run_ok(args)
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert metadata["status"] == "complete"
    assert len(metadata["samples"]) == 3 and metadata["search_params"]["num_samples"] == 3
    args[7] = 4  # more: the search is extended
    run_ok(args)
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert len(metadata["samples"]) == 4 and metadata["search_params"]["num_samples"] == 4


def test_num_samples_beyond_the_space_records_what_ran(small_split, tmp_path):
    run_ok(experiment_args(small_split, tmp_path, alg="TopPop", samples=50))
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert len(metadata["samples"]) == 1 and metadata["search_params"]["num_samples"] == 1


def test_journal_samples_are_resumed_when_the_zip_is_behind(small_split, tmp_path):
    """kill -9 between two zip rewrites: the journal holds the samples the zip lacks."""
    args = experiment_args(small_split, tmp_path, alg="ItemKNNCF_cosine", samples=3)
    run_ok(args)
    complete = read_result_metadata(tmp_path / "result.zip")
    identity = {key: complete["search_params"][key] for key in RESUME_KEYS}
    behind = dict(complete, samples=complete["samples"][:1], status="error", error="killed")
    write_result_zip(tmp_path / "result.zip", behind)
    lines = [json.dumps({"experiment": identity})] + [json.dumps(sample) for sample in complete["samples"][1:]]
    (tmp_path / JOURNAL_NAME).write_text("\n".join(lines) + "\n" + '{"sample_number": 2, "hyperpa')  # torn
    run_ok(args)
    resumed = read_result_metadata(tmp_path / "result.zip")
    assert resumed["status"] == "complete"
    assert resumed["samples"] == complete["samples"]  # nothing recomputed, nothing lost
    assert "3 samples, 3 already finished" in (tmp_path / "experiment.log").read_text()
    assert not (tmp_path / JOURNAL_NAME).exists()


# --- shared folders ---


def test_result_files_follow_the_umask(small_split, tmp_path):
    """Before: result.zip came out 0600, unreadable to another user or a VM's service account."""
    previous = os.umask(0o022)
    try:
        run_ok(experiment_args(small_split, tmp_path / "out"))
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "out").iterdir()}
    assert modes == {"result.zip": 0o644, "experiment.log": 0o644, LOCK_NAME: 0o644}


def test_read_only_split_folder_still_runs(small_split, tmp_path):
    shared = tmp_path / "shared_split"
    shutil.copytree(small_split, shared, ignore=shutil.ignore_patterns("metafeatures.json"))
    read_only(shared)
    try:
        result = run_module("Experiment_handler.run_experiment", *experiment_args(shared, tmp_path / "out"))
    finally:
        writable_again(shared)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()  # the reason depends on how the folder was made read-only
    assert len(lines) == 1 and lines[0].startswith(f"warning: cannot cache the meta-features in {shared} (")
    assert lines[0].endswith("); computed without caching")
    metadata = read_result_metadata(tmp_path / "out" / "result.zip")
    assert metadata["status"] == "complete" and len(metadata["dataset_features"]) == 383
    assert not (shared / "metafeatures.json").exists()
