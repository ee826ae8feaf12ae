"""Memory budget for fitting: ``RECZILLA_MEMORY_LIMIT`` (bytes, or a suffix K/M/G), default 80% of the memory
this process may use (the RAM, or its cgroup's limit when lower: ``Data_manager.machine_resources``);
what estimates allow for the allocator (huge pages), and the release of freed memory after a fit."""

import ctypes

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


#: The transparent huge page: numpy asks the kernel for them (``madvise``) for arrays of 4 MiB or
#: more, and the kernel then backs the heap there with whole pages, also under later arrays.
HUGE_PAGE_BYTES = 2 << 20


def huge_page_allowance(*array_bytes: int) -> int:
    """What the resident set may hold beyond arrays of ``array_bytes`` bytes: one huge page for
    each array of a huge page or more (measured: 1.5-2.2 MiB per array of a fit's temporaries)."""
    return HUGE_PAGE_BYTES * sum(size >= HUGE_PAGE_BYTES for size in array_bytes)


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; other C libraries have no such call
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Return the memory the C heap holds free to the system (glibc's ``malloc_trim``; nothing
    elsewhere), so that freed temporaries do not stay resident under what is allocated next."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
