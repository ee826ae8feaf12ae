"""Shared fixtures. Each area may add its own fixtures below, in a section of its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_module(module: str, *args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args...`` from the repository root, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def splits_dir(tmp_path_factory) -> Path:
    """Every splitter's split of SyntheticSmall, made once per test session."""
    root = tmp_path_factory.mktemp("synthetic")
    result = run_module(
        "Data_manager.create_all_data_splits",
        "--data-dir", root / "data", "--splits-dir", root / "splits", "--datasets", "SyntheticSmall",
    )
    assert result.returncode == 0, result.stderr
    return root / "splits"


@pytest.fixture(scope="session")
def small_split(splits_dir) -> Path:
    """The leave-last-out split folder of SyntheticSmall."""
    return splits_dir / "SyntheticSmall" / "DataSplitter_leave_k_out_last"


# --- datasets: a local HTTP mirror of the dataset sources (no internet in tests) ---


@pytest.fixture
def data_mirror(monkeypatch):
    """A running ``tests.http_server.MirrorServer``; ``RECZILLA_DATA_MIRROR`` points at it."""
    from tests.http_server import MirrorServer

    server = MirrorServer().start()
    monkeypatch.setenv("RECZILLA_DATA_MIRROR", server.base_url)
    yield server
    server.stop()
