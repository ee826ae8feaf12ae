"""The neural models' registry entries and setup checks, none of which needs PyTorch."""

import subprocess
import sys
import types

import pytest

from Recommenders.hyperparameter_space import Categorical, Integer, Real
from Recommenders.neural import torch_runtime
from Recommenders.neural.torch_runtime import TORCH_INSTALL_COMMAND, TorchMissing
from Recommenders.registry import ALGORITHMS
from tests.conftest import REPO_ROOT, run_module
from tests.test_run_experiment import experiment_args

# From the reference's algorithm_handler.py (spaces, defaults, fixed fit arguments).
NEUREC_SPACE = {"num_neurons": Integer(3, 500), "num_factors": Integer(2, 100), "dropout_percentage": Real(0.0, 0.3),
                "learning_rate": Real(1e-6, 1e-1, "log-uniform"), "regularization_rate": Real(1e-4, 1e1, "log-uniform")}
NEUREC_DEFAULT = {"num_neurons": 100, "num_factors": 10, "dropout_percentage": 0.1, "learning_rate": 1e-3,
                  "regularization_rate": 1e-2}
DELF_SPACE = {"learning_rate": Real(1e-6, 1e-2, "log-uniform"), "num_negatives": Integer(3, 4)}
DELF_FIT = {"epochs": 100, "batch_size": 64, "learner": "adam", "verbose": False, "layers": (256, 128, 64),
            "regularization_layers": (0, 0, 0)}
REFERENCE = {
    "INeuRec_RecommenderWrapper": (NEUREC_SPACE, NEUREC_DEFAULT, {"epochs": 100, "batch_size": 64}),
    "UNeuRec_RecommenderWrapper": (NEUREC_SPACE, NEUREC_DEFAULT, {"epochs": 100, "batch_size": 64}),
    "SpectralCF_RecommenderWrapper": (
        {"embedding_size": Categorical([4, 8, 16, 32]), "decay": Real(1e-5, 1e-1, "log-uniform"),
         "learning_rate": Real(1e-5, 1e-2, "log-uniform"), "k": Integer(1, 6)},
        {"embedding_size": 16, "decay": 0.001, "learning_rate": 1e-3, "k": 3}, {"epochs": 100, "batch_size": 64}),
    "Mult_VAE_RecommenderWrapper": (
        {"total_anneal_steps": Integer(1000, 1000000), "lam": Real(1e-10, 1e-1, "log-uniform"),
         "lr": Real(1e-6, 1e-2, "log-uniform")},
        {"total_anneal_steps": 200000, "lam": 1e-10, "lr": 1e-3},  # lam: the reference's 0.0 lies outside
        {"epochs": 100, "batch_size": 64, "p_dims": None}),
    "DELF_MLP_RecommenderWrapper": (DELF_SPACE, {"learning_rate": 1e-3, "num_negatives": 4}, DELF_FIT),
    "DELF_EF_RecommenderWrapper": (DELF_SPACE, {"learning_rate": 1e-3, "num_negatives": 4}, DELF_FIT),
    "MFBPR_Wrapper": (
        {"embed_size": Categorical([32, 64, 128]), "learning_rate": Real(1e-4, 1e-1, "log-uniform")},
        {"embed_size": 64, "learning_rate": 1e-3},
        {"epochs": 100, "batch_size": 64, "negative_sample_per_positive": 1}),
}


def test_registry_entries_follow_the_reference():
    names = list(ALGORITHMS)
    assert names[names.index("EASE_R_Recommender") + 1 : names.index("CoClustering")] == list(REFERENCE)
    for name, (space, default, fit_args) in REFERENCE.items():
        spec = ALGORITHMS[name]
        assert spec.space.dimensions == space, name
        assert spec.space.default == default, name
        assert spec.fit_args == fit_args, name
        assert spec.max_points is None and spec.early_stopping and spec.extra == "neural", name
    assert not any(spec.early_stopping or spec.extra for name, spec in ALGORITHMS.items() if name not in REFERENCE)


def test_importing_the_registry_does_not_import_torch():
    code = "import sys; import Recommenders.registry, Experiment_handler.run_experiment; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_without_torch_run_experiment_exits_2_with_the_install_command(small_split, tmp_path):
    result = run_module("tests.neural_runs", "without-torch",
                        *experiment_args(small_split, tmp_path / "r", alg="MFBPR_Wrapper"))
    assert result.returncode == 2
    assert TORCH_INSTALL_COMMAND in result.stderr and "MFBPR_Wrapper" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    # a classic model still runs without torch
    result = run_module("tests.neural_runs", "without-torch", *experiment_args(small_split, tmp_path / "t"))
    assert result.returncode == 0, result.stderr


def test_import_torch_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert not torch_runtime.torch_installed()
    with pytest.raises(TorchMissing, match=r"pip install -e '\.\[neural\]'"):
        torch_runtime.import_torch()


@pytest.mark.parametrize("value, expected", [("", "cpu"), ("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:1", "cuda:1")])
def test_requested_device(monkeypatch, value, expected):
    monkeypatch.setenv("RECZILLA_DEVICE", value)
    assert torch_runtime.requested_device() == expected


@pytest.mark.parametrize("value", ["gpu", "cuda:", "cuda:x", "mps", "cpu:0"])
def test_a_bad_device_is_refused(monkeypatch, value):
    monkeypatch.setenv("RECZILLA_DEVICE", value)
    with pytest.raises(ValueError, match="RECZILLA_DEVICE"):
        torch_runtime.requested_device()


def fake_torch(gpus: int):
    """A stand-in for torch's device API with ``gpus`` CUDA devices."""
    cuda = types.SimpleNamespace(is_available=lambda: gpus > 0, device_count=lambda: gpus)
    return types.SimpleNamespace(__version__="0.0", cuda=cuda, device=lambda name: ("device", name))


@pytest.mark.parametrize("value, gpus, expected", [
    ("cpu", 0, ("device", "cpu")), ("cuda", 1, ("device", "cuda")), ("cuda:1", 2, ("device", "cuda:1")),
    ("cuda", 0, "sees no CUDA device"), ("cuda:1", 1, "only 1 CUDA device"),
])
def test_select_device(monkeypatch, value, gpus, expected):
    monkeypatch.setenv("RECZILLA_DEVICE", value)
    if isinstance(expected, tuple):
        assert torch_runtime.select_device(fake_torch(gpus)) == expected
    else:
        with pytest.raises(RuntimeError, match=expected):
            torch_runtime.select_device(fake_torch(gpus))


def test_demo_lists_only_algorithms_without_extras():
    code = "from Recommenders.registry import algorithms_without_extras as a; print(' '.join(a()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    listed = result.stdout.split()
    assert len(listed) == 28 and not set(listed) & set(REFERENCE)
    assert "algorithms_without_extras" in (REPO_ROOT / "scripts" / "demo.sh").read_text()
