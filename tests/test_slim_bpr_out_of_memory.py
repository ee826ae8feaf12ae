"""SLIM-BPR's sparse rows that cannot grow raise ``MemoryError`` (no sentinel loss, no crash)."""

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# Runs in its own process: the address-space limit would starve the test session too.
SCRIPT = textwrap.dedent("""
    import resource
    import numpy as np
    import scipy.sparse as sp
    from Recommenders._sgd_common import optimizer_state_arrays
    from Recommenders._slim_bpr_sgd import SlimBPRSGD

    n_items = 20000
    URM = sp.random(200, n_items, density=0.3, format="csr", random_state=1, dtype=np.float32)
    URM.sort_indices()
    engine = SlimBPRSGD(URM.indptr.astype(np.int64), URM.indices.astype(np.int32), URM.data, n_items, None,
                        optimizer_state_arrays("sgd", (n_items,)), sgd_mode="sgd", learning_rate=0.1,
                        lambda_i=0.0, lambda_j=0.0, symmetric=False, top_k=n_items,
                        seed_sequence=np.random.SeedSequence(0))
    with open("/proc/self/statm") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (in_use + (64 << 20), resource.RLIM_INFINITY))
    try:
        for _ in range(50):  # the rows need far more than 64 MiB
            engine.run_epoch()
    except MemoryError as error:
        print(f"MemoryError: {error}")
""")


def test_sparse_rows_out_of_memory_raise_memory_error():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "MemoryError: SLIM_BPR: out of memory growing the sparse similarity rows"
