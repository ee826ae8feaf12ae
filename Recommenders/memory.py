"""Memory budget for fitting: ``RECZILLA_MEMORY_LIMIT`` (bytes, or a suffix K/M/G), default 80% of the memory
this process may use (the RAM, or its cgroup's limit when lower: ``Data_manager.machine_resources``)."""

from Data_manager.machine_resources import default_memory_budget
from Recommenders.settings import memory_limit_setting


class MemoryEstimateExceeded(MemoryError):
    """A model's estimated peak memory is above the budget, so it was not fitted."""


def memory_limit_bytes() -> int:
    """The budget in bytes from ``RECZILLA_MEMORY_LIMIT`` (checked by ``Recommenders.settings``),
    or 80% of the available memory."""
    limit = memory_limit_setting()
    return default_memory_budget() if limit is None else limit


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps it at least 1 (``1.5 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024:
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} TiB"


def check_memory_estimate(name: str, estimated_bytes: int) -> None:
    """Raise ``MemoryEstimateExceeded`` when ``estimated_bytes`` is above the budget."""
    limit = memory_limit_bytes()
    if estimated_bytes > limit:
        raise MemoryEstimateExceeded(
            f"{name} needs an estimated {format_bytes(estimated_bytes)}, "
            f"above the memory budget of {format_bytes(limit)} (RECZILLA_MEMORY_LIMIT)"
        )
