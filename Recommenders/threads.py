"""The one thread setting, ``RECZILLA_THREADS``, shared by BLAS and the Cython kernels."""

import os
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


def configured_threads() -> int:
    """Threads allowed to this process: ``RECZILLA_THREADS`` or, unset, every core."""
    value = os.environ.get("RECZILLA_THREADS", "").strip()
    if not value:
        return os.cpu_count() or 1
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"RECZILLA_THREADS must be a positive integer, got {value!r}") from None
    if threads < 1:
        raise ValueError(f"RECZILLA_THREADS must be a positive integer, got {value!r}")
    return threads


@contextmanager
def limited_threads():
    """Cap BLAS/OpenMP thread pools at ``configured_threads()`` for the enclosed block."""
    with threadpool_limits(limits=configured_threads()):
        yield
