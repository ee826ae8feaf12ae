"""How many threads one Cython kernel call should use.

Waking a second thread costs little on an idle machine but up to a scheduler time
slice when another process holds the core, so calls with little work run on one
thread. Kernels give the same result whatever the number of threads.
"""

from Recommenders.threads import configured_threads

#: Elementary operations below which a kernel call runs on one thread (a few milliseconds).
MIN_PARALLEL_WORK = 10_000_000


def kernel_threads(work: float) -> int:
    """``configured_threads()`` for a call doing ``work`` operations, or 1 when it is small."""
    return configured_threads() if work >= MIN_PARALLEL_WORK else 1
