"""Finding PyTorch and the device, without importing torch until a neural model needs it.

``RECZILLA_DEVICE`` picks the device: unset or ``cpu`` (default), ``cuda`` or ``cuda:N``.
"""

import importlib
import importlib.util
import os
import re

#: What to run when torch is missing (from a checkout of this project).
TORCH_INSTALL_COMMAND = "pip install -e '.[neural]'"
_DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?")


class TorchMissing(ImportError):
    """A neural model was asked for but PyTorch is not installed."""


def torch_installed() -> bool:
    """True when ``import torch`` would find a package (torch itself is not imported)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # blocked, or a broken stand-in in sys.modules
        return False


def import_torch():
    """The ``torch`` module, or ``TorchMissing`` naming the install command."""
    try:
        return importlib.import_module("torch")
    except ImportError as error:
        raise TorchMissing(
            f"the neural models need PyTorch, which is not installed ({error}); install it with: "
            f"{TORCH_INSTALL_COMMAND}"
        ) from None


def requested_device() -> str:
    """The device named by ``RECZILLA_DEVICE`` (``cpu`` when unset); ``ValueError`` for a bad value."""
    value = os.environ.get("RECZILLA_DEVICE", "").strip().lower() or "cpu"
    if not _DEVICE_PATTERN.fullmatch(value):
        raise ValueError(f"RECZILLA_DEVICE must be cpu, cuda or cuda:N, got {value!r}")
    return value


def select_device(torch=None):
    """The ``torch.device`` to train on; ``RuntimeError`` when a GPU is asked for but absent."""
    torch = torch or import_torch()
    name = requested_device()
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"RECZILLA_DEVICE={name} but torch {torch.__version__} sees no CUDA device")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"RECZILLA_DEVICE={name} but only {torch.cuda.device_count()} CUDA device(s) exist")
    return torch.device(name)


def torch_environment() -> dict:
    """``{"torch": version, "device": name}`` for a result's ``environment``."""
    torch = import_torch()
    device = select_device(torch)
    label = str(device)
    if device.type == "cuda":
        label += f" ({torch.cuda.get_device_name(device)})"
    return {"torch": torch.__version__, "device": label}
