"""Similarities between the columns of a sparse matrix, and the top-k selection of their columns.

A thin API over the Cython engine ``Recommenders._similarity``. The data matrix
``X`` holds one column per object to compare: the URM for item-item
similarities, its transpose for user-user ones. For a target column ``x_t`` and
another column ``x_c``, with ``s = x_t . x_c``, ``n = ||x||_2``, ``q = ||x||_2^2``
and ``h`` the shrink term (the reference's definitions, ``Base/Similarity``):

- ``cosine``:     ``s / (n_t n_c + h + 1e-6)``
- ``asymmetric``: ``s / ((n_t + 1e-6)^(2a) (n_c + 1e-6)^(2(1-a)) + h + 1e-6)``, ``a = asymmetric_alpha``
- ``jaccard``:    ``s / (q_t + q_c - s + h + 1e-6)``
- ``dice``:       ``s / (q_t + q_c + h + 1e-6)`` (the reference's form: half the textbook Dice)
- ``tversky``:    ``s / (s + ta (q_t - s) + tb (q_c - s) + h + 1e-6)``
- ``euclidean``:  ``1 / (f(d) + h + 1e-9)``, ``d^2 = q_t + q_c - 2s``, divided by ``n_t n_c``
  (when ``normalize`` and nonzero) and by the number of rows (``normalize_avg_row``),
  ``f(d)`` = ``d`` (lin), ``log(d + 1)`` (log) or ``exp(d)`` (exp).

Jaccard, dice and tversky use the binarised matrix and ignore ``normalize``.
With ``normalize=False`` cosine and asymmetric are ``s / h`` (``s`` when ``h = 0``).
``W[c, t]`` is the similarity of ``c`` to target ``t``; column ``t`` keeps its
``topK`` largest nonzero values (ties: the lower index), never ``t`` itself.

Kept reference quirks: the euclidean similarity of identical columns is
``1 / (h + 1e-9)`` (huge when ``h = 0``). Fixed: a squared distance made slightly
negative by rounding counts as 0 (the reference left it negative); sums are in
float64 (the reference's euclidean summed the float32 data in float32).
"""

import numpy as np
import scipy.sparse as sp

from Recommenders import _similarity
from Recommenders.matrix_products import check_finite, column_sums_of_squares, csr_arrays
from Recommenders.threads import configured_threads

SIMILARITIES = ("cosine", "asymmetric", "jaccard", "dice", "tversky", "euclidean")
DISTANCE_MODES = {"lin": _similarity.DISTANCE_LIN, "log": _similarity.DISTANCE_LOG, "exp": _similarity.DISTANCE_EXP}
_SET_SIMILARITIES = ("jaccard", "dice", "tversky")
#: Dense columns handled at once when selecting the top-k of a dense matrix.
_DENSE_BLOCK = 256


def top_k_similarity(left, right, top_k: int, mode: int, a: np.ndarray, b: np.ndarray, **transform) -> sp.csr_matrix:
    """``M`` (CSR float32, ``right.shape[1] x left.shape[1]``): column ``t`` holds the ``top_k``
    largest nonzero ``transform((left^T right)[t, c])`` over ``c != t``, at rows ``c``.

    ``left`` is read by columns (the targets), ``right`` by rows; both are sparse with the
    same rows. ``mode``, the factors ``a``/``b`` and the ``transform`` keywords: see
    ``Recommenders._similarity``.
    """
    if top_k < 1:
        raise ValueError(f"topK must be at least 1, got {top_k}")
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"left and right differ in rows: {left.shape[0]} != {right.shape[0]}")
    csc, csr = sp.csc_matrix(left, dtype=np.float32), sp.csr_matrix(right, dtype=np.float32)
    csc.sort_indices()
    csr.sort_indices()
    n_cols = right.shape[1]
    k = min(int(top_k), n_cols)
    counts, indices, values = _similarity.similarity_top_k(
        *csr_arrays(csc), *csr_arrays(csr), n_cols, k, mode,
        np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64),
        n_threads=configured_threads(), **transform,
    )
    return top_k_transposed(counts, indices, values, k, (n_cols, left.shape[1]))


def top_k_transposed(counts, indices, values, k, shape) -> sp.csr_matrix:
    """The transpose (CSR, sorted indices) of a top-k kernel's result: entry ``(r, c)`` becomes ``(c, r)``."""
    indptr, indices, values = _similarity.transpose_top_k(counts, indices, values, k, shape[0])
    return sp.csr_matrix((values, indices, indptr), shape=shape)


def compute_similarity(X, similarity: str = "cosine", topK: int = 100, shrink: float = 0.0, normalize: bool = True,
                       asymmetric_alpha: float = 0.5, tversky_alpha: float = 1.0, tversky_beta: float = 1.0,
                       normalize_avg_row: bool = False, similarity_from_distance_mode: str = "lin") -> sp.csr_matrix:
    """Top-``topK`` similarity matrix ``W`` (CSR, float32) between the columns of the sparse ``X``."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")
    if similarity_from_distance_mode not in DISTANCE_MODES:
        raise ValueError(f"unknown similarity_from_distance_mode {similarity_from_distance_mode!r}; "
                         f"valid: {', '.join(DISTANCE_MODES)}")
    if shrink < 0:
        raise ValueError(f"shrink must be non-negative, got {shrink}")
    if not sp.issparse(X):
        raise TypeError(f"X must be a scipy sparse matrix, got {type(X).__name__}")
    X = sp.csc_matrix(X, dtype=np.float32)
    X.sort_indices()
    check_finite(X)
    if similarity in _SET_SIMILARITIES:  # presence only: values of one on the same (sorted) structure
        X = sp.csc_matrix((np.ones_like(X.data), X.indices, X.indptr), shape=X.shape)
    squares = column_sums_of_squares(X)
    norms = np.sqrt(squares)
    shrink = float(shrink)
    if similarity == "euclidean":
        mode, a, b = _similarity.MODE_EUCLIDEAN, squares, squares
        transform = {"shrink": shrink, "normalize": bool(normalize),
                     "distance_mode": DISTANCE_MODES[similarity_from_distance_mode],
                     "row_divisor": float(X.shape[0]) if normalize_avg_row else 1.0}
    elif similarity in _SET_SIMILARITIES:
        if similarity == "tversky":
            alpha, beta = float(tversky_alpha), float(tversky_beta)
            if alpha < 0 or beta < 0:
                raise ValueError(f"tversky_alpha and tversky_beta must be non-negative, got {alpha}, {beta}")
            w_s = 1.0 - alpha - beta
        else:
            alpha = beta = 1.0
            w_s = -1.0 if similarity == "jaccard" else 0.0
        mode, a, b = _similarity.MODE_SET, squares, squares
        transform = {"shrink": shrink, "w_s": w_s, "alpha": alpha, "beta": beta}
    elif normalize:
        mode = _similarity.MODE_PRODUCT
        if similarity == "asymmetric":
            a = np.power(norms + 1e-6, 2 * asymmetric_alpha)
            b = np.power(norms + 1e-6, 2 * (1 - asymmetric_alpha))
        else:
            a = b = norms
        transform = {"shrink": shrink}
    else:
        mode, a, b = _similarity.MODE_DOT, np.ones(X.shape[1]), np.ones(X.shape[1])
        transform = {"scale": shrink if shrink != 0 else 1.0}
    return top_k_similarity(X, X, topK, mode, a, b, **transform)


def column_top_k(W, k: int) -> sp.csr_matrix:
    """``W`` (sparse or dense) keeping the ``k`` largest nonzero values of each column, as CSR."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_rows, n_cols = W.shape
    k = min(int(k), n_rows)
    if sp.issparse(W):  # the CSC arrays, read column by column as the rows of W^T
        return top_k_transposed(*_similarity.rows_top_k(*csr_arrays(sp.csc_matrix(W, dtype=np.float32)), k,
                                                        n_threads=configured_threads()), k, W.shape)
    blocks = []
    for start in range(0, n_cols, _DENSE_BLOCK):
        block = sp.csr_matrix(np.ascontiguousarray(W[:, start:start + _DENSE_BLOCK].T, dtype=np.float32))
        blocks.append(top_k_transposed(*_similarity.rows_top_k(*csr_arrays(block), k, n_threads=configured_threads()),
                                       k, (n_rows, block.shape[0])))
    return sp.hstack(blocks, format="csr")


def top_k_memory_bytes(n_targets: int, n_cols: int, top_k: int) -> int:
    """Peak bytes of ``top_k_similarity``: the kernel's result and its transpose (8 bytes an
    entry each), and each thread's dense accumulator and candidate buffer."""
    k = min(top_k, n_cols)
    return 2 * n_targets * k * 8 + 2 * (n_targets + n_cols + 2) * 8 + configured_threads() * (n_cols * 13 + k * 48)
