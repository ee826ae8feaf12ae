"""The Cython kernels' guards: int64 row pointers (no silent int32 wrap) and checked per-thread malloc."""

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from Recommenders._als import conjugate_gradient_rows
from Recommenders._sgd_common import eligible_users, optimizer_state_arrays
from Recommenders._slim_bpr_sgd import SlimBPRSGD
from Recommenders.kernel_indices import INT32_LIMIT, kernel_csr_arrays, kernel_index_arrays
from tests.conftest import REPO_ROOT

#: A malloc that returns NULL for one request size once ``fail_malloc_of_size(n)`` armed it
#: (loaded with LD_PRELOAD into a child process, armed through ctypes just before a kernel call).
FAILING_MALLOC_C = r"""
#include <stdlib.h>
extern void *__libc_malloc(size_t);
static size_t fail_bytes = 0;
void fail_malloc_of_size(size_t size) { fail_bytes = size; }
void *malloc(size_t size) {
    if (fail_bytes != 0 && size == fail_bytes) return NULL;
    return __libc_malloc(size);
}
"""


def test_row_pointers_past_int32_are_kept_not_wrapped():
    # A matrix with 2^31 + 5 entries, described by its pointers only (nothing of that size allocated).
    indptr = np.array([0, 3, INT32_LIMIT + 5], dtype=np.int64)
    kernel_indptr, kernel_indices = kernel_index_arrays(indptr, np.array([0, 1, 2], dtype=np.int64), 10)
    assert kernel_indptr.dtype == np.int64 and kernel_indptr[-1] == INT32_LIMIT + 5
    assert kernel_indices.dtype == np.int32
    assert indptr.astype(np.int32)[-1] < 0  # what the former int32 cast passed to the kernels


def test_indices_that_int32_cannot_hold_are_refused():
    wide = sp.csr_matrix((2, INT32_LIMIT))  # no entries: only the pointers exist
    with pytest.raises(ValueError, match=r"at most 2147483647 items or users with int32 indices, got 2147483648"):
        kernel_csr_arrays(wide)
    with pytest.raises(ValueError, match="int32 indices"):
        kernel_csr_arrays(sp.csc_matrix((INT32_LIMIT, 2)))
    assert kernel_index_arrays(np.array([0]), np.array([], np.int64), INT32_LIMIT - 1)[1].dtype == np.int32
    with pytest.raises(TypeError, match="CSR or CSC"):
        kernel_csr_arrays(sp.coo_matrix((2, 2)))


def test_similarity_engine_arrays_share_the_guard():
    from Recommenders.matrix_products import csr_arrays

    with pytest.raises(ValueError, match="int32 indices"):
        csr_arrays(sp.csr_matrix((2, INT32_LIMIT)))
    ptr, idx, val = csr_arrays(sp.csr_matrix(np.array([[0, 2.5], [1, 0]])))
    assert (ptr.dtype, idx.dtype, val.dtype) == (np.int64, np.int32, np.float32) and val.tolist() == [2.5, 1.0]


def test_kernels_refuse_int32_row_pointers():
    URM = sp.random(5, 4, density=0.5, format="csr", random_state=0, dtype=np.float32)
    X, Y = np.zeros((5, 2), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="Buffer dtype mismatch"):
        conjugate_gradient_rows(URM.indptr.astype(np.int32), URM.indices, URM.data, X, Y, np.eye(2, dtype=np.float32),
                                1, 1)
    conjugate_gradient_rows(*kernel_csr_arrays(URM), URM.data, X, Y, np.eye(2, dtype=np.float32), 1, 1)


def test_sgd_kernels_take_int64_row_pointers_and_number_users_in_int32():
    URM = sp.random(6, 5, density=0.4, format="csr", random_state=0, dtype=np.float32)
    with pytest.raises(ValueError, match="Buffer dtype mismatch"):
        SlimBPRSGD(URM.indptr.astype(np.int32), URM.indices, URM.data, 5, None, optimizer_state_arrays("sgd", (5,)),
                   sgd_mode="sgd", learning_rate=0.1, lambda_i=0.0, lambda_j=0.0, symmetric=False, top_k=5,
                   seed_sequence=np.random.SeedSequence(0))
    too_many_users = np.broadcast_to(np.int64(0), (INT32_LIMIT + 1,))  # a view: nothing of that size allocated
    with pytest.raises(ValueError, match="at most 2147483647 users with int32, got 2147483648"):
        eligible_users(too_many_users, 5)


@pytest.fixture(scope="module")
def failing_malloc(tmp_path_factory):
    """A shared library whose malloc fails for one size, for LD_PRELOAD."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (the kernels are built with one)"
    folder = tmp_path_factory.mktemp("failing_malloc")
    (folder / "failing_malloc.c").write_text(FAILING_MALLOC_C)
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", folder / "failing_malloc.so", folder / "failing_malloc.c"],
                   check=True)
    return folder / "failing_malloc.so"


def run_with_failing_malloc(library, fail_bytes: int, setup: str, call: str) -> subprocess.CompletedProcess:
    """Run ``setup``, then ``call`` with mallocs of ``fail_bytes`` failing; prints a MemoryError."""
    code = "\n".join([
        "import ctypes", "import numpy as np", "import scipy.sparse as sp", textwrap.dedent(setup),
        f"ctypes.CDLL({str(library)!r}).fail_malloc_of_size(ctypes.c_size_t({fail_bytes}))",
        "try:", f"    {call}", "except MemoryError as error:", "    print('MemoryError:', error)",
    ])
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={"LD_PRELOAD": str(library), "PATH": "/usr/bin:/bin"})


RATINGS = """
from Recommenders.kernel_indices import kernel_csr_arrays
URM = sp.random(30, {n_items}, density=0.2, format="csr", random_state=1, dtype=np.float32)
by_user = (*kernel_csr_arrays(URM), URM.data)
csc = URM.tocsc()
by_item = (*kernel_csr_arrays(csc), csc.data)
"""

CASES = {
    "ALS": (
        RATINGS.format(n_items=20) + """
from Recommenders._als import conjugate_gradient_rows
f = 1237
X, Y, YtY = np.zeros((30, f), np.float32), np.ones((20, f), np.float32), np.eye(f, dtype=np.float32)
""",
        "conjugate_gradient_rows(*by_user, X, Y, YtY, 2, 2)", 3 * 1237 * 4,
        "ALS kernel: could not allocate a thread's 14844-byte scratch buffer",
    ),
    "SlopeOne deviations": (
        RATINGS.format(n_items=1237) + """
from Recommenders._rating_models import slope_one_deviations
dev, related = np.empty((1237, 1237), np.float32), np.empty((1237, 1237), np.uint8)
""",
        "slope_one_deviations(*by_item, *by_user, dev, related, 2)", 1237 * 8,
        "SlopeOne kernel: could not allocate a thread's 14844-byte row buffers",
    ),
    "SlopeOne scores": (
        RATINGS.format(n_items=1301) + """
from Recommenders._rating_models import slope_one_scores
dev, related = np.zeros((1301, 1301), np.float32), np.ones((1301, 1301), np.uint8)
out = np.empty((4, 1301), np.float32)
""",
        "slope_one_scores(*by_user[:2], np.arange(4), np.zeros(30), dev, related, out, 2)", 1301 * 4,
        "SlopeOne scoring kernel: could not allocate a thread's 5204-byte buffer",
    ),
    "CoClustering": (
        RATINGS.format(n_items=20) + """
from Recommenders._rating_models import coclustering_assign
d = 617
clusters = np.zeros(20, np.int64)
""",
        "coclustering_assign(*by_user, np.zeros(30), np.zeros(20), clusters, np.zeros(d), np.zeros((3, d)), "
        "np.zeros(30, np.int64), 2)", 617 * 8,
        "CoClustering kernel: could not allocate a thread's 19744-byte buffers",
    ),
}


@pytest.mark.parametrize("kernel", list(CASES))
def test_failed_kernel_allocation_is_a_memory_error(failing_malloc, kernel):
    setup, call, fail_bytes, message = CASES[kernel]
    result = run_with_failing_malloc(failing_malloc, fail_bytes, setup, call)
    assert result.returncode == 0, result.stderr[-2000:]  # before the check: killed by SIGSEGV (-11)
    assert result.stdout.strip() == f"MemoryError: {message}"


def test_failed_allocation_in_a_fit_reaches_the_caller(failing_malloc):
    """The search records any exception of a fit as the sample's: the MemoryError gets there."""
    setup = RATINGS.format(n_items=20) + "from Recommenders.ials import IALSRecommender\n"
    call = "IALSRecommender(seed=0).fit(URM, num_factors=1237, epochs=1)"
    result = run_with_failing_malloc(failing_malloc, 3 * 1237 * 4, setup, call)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "MemoryError: ALS kernel: could not allocate a thread's 14844-byte scratch buffer"
