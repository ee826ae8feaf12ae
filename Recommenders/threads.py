"""The one thread setting, ``RECZILLA_THREADS``, shared by BLAS and the Cython kernels.

``configured_threads()`` is the setting; ``limited_threads()`` caps BLAS/OpenMP pools at
it; ``kernel_threads(work)`` is how many threads one Cython kernel call should use.
Waking a second thread costs little on an idle machine but up to a scheduler time
slice when another process holds the core, so calls with little work run on one
thread. Kernels give the same result whatever the number of threads.
"""

from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from Data_manager.machine_resources import available_cpus
from Recommenders.settings import threads_setting

#: Elementary operations below which a kernel call runs on one thread (a few milliseconds).
MIN_PARALLEL_WORK = 10_000_000


def configured_threads() -> int:
    """Threads allowed to this process: ``RECZILLA_THREADS`` (checked by ``Recommenders.settings``) or, unset,
    every CPU it may use (affinity, cgroup quota)."""
    return threads_setting() or available_cpus()


@contextmanager
def limited_threads():
    """Cap BLAS/OpenMP thread pools at ``configured_threads()`` for the enclosed block."""
    with threadpool_limits(limits=configured_threads()):
        yield


def kernel_threads(work: float) -> int:
    """``configured_threads()`` for a call doing ``work`` operations, or 1 when it is small."""
    return configured_threads() if work >= MIN_PARALLEL_WORK else 1
