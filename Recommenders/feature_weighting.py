"""Re-weighting of the interactions before a similarity: Okapi BM25 and TF-IDF.

As in the reference (``Base/IR_feature_weighting.py`` applied to ``URM.T``), items
are the documents and users the terms. For an interaction ``r_ui``, with
``N = n_items``, ``n_u`` the number of interactions stored for user ``u`` and
``L_i`` the sum of item ``i``'s column of the URM:

- ``idf_u = log(N / (1 + n_u))`` (negative for a user who rated every item);
- BM25:   ``r_ui (K1 + 1) / (K1 ((1 - B) + B L_i / mean(L)) + r_ui) * idf_u``
  (``K1 = 1.2``, ``B = 0.75``; a zero denominator gets ``1e-9``);
- TF-IDF: ``sqrt(r_ui) * idf_u`` (needs ``r_ui >= 0``).

The sparsity pattern is kept (a zero weight stays stored), and the result is float32.
"""

import numpy as np
import scipy.sparse as sp

FEATURE_WEIGHTINGS = ("none", "BM25", "TF-IDF")


def _user_idf(URM: sp.csr_matrix) -> np.ndarray:
    return np.log(URM.shape[1] / (1.0 + np.diff(URM.indptr)))


def _checked(URM) -> sp.csr_matrix:
    URM = sp.csr_matrix(URM, dtype=np.float32)
    if not np.all(np.isfinite(URM.data)):
        raise ValueError(f"the URM holds {int(np.sum(~np.isfinite(URM.data)))} non-finite values")
    return URM


def okapi_bm25(URM, K1: float = 1.2, B: float = 0.75) -> sp.csr_matrix:
    """BM25-weighted copy of the users x items ``URM`` (formula in the module docstring)."""
    if not 0 < B < 1:
        raise ValueError(f"BM25 needs 0 < B < 1, got {B}")
    if K1 <= 0:
        raise ValueError(f"BM25 needs K1 > 0, got {K1}")
    URM = _checked(URM)
    data = URM.data.astype(np.float64)
    item_length = np.bincount(URM.indices, weights=data, minlength=URM.shape[1])
    if item_length.mean() == 0:
        raise ValueError("BM25 needs a URM whose values do not sum to zero")
    length_norm = (1.0 - B) + B * item_length / item_length.mean()
    denominator = K1 * length_norm[URM.indices] + data
    denominator[denominator == 0.0] += 1e-9
    users = np.repeat(np.arange(URM.shape[0]), np.diff(URM.indptr))
    weighted = data * (K1 + 1.0) / denominator * _user_idf(URM)[users]
    return sp.csr_matrix((weighted.astype(np.float32), URM.indices.copy(), URM.indptr.copy()), shape=URM.shape)


def tf_idf(URM) -> sp.csr_matrix:
    """TF-IDF-weighted copy of the users x items ``URM`` (formula in the module docstring)."""
    URM = _checked(URM)
    if np.any(URM.data < 0):
        raise ValueError(f"TF-IDF needs non-negative values, the URM holds {int(np.sum(URM.data < 0))} negative ones")
    users = np.repeat(np.arange(URM.shape[0]), np.diff(URM.indptr))
    weighted = np.sqrt(URM.data.astype(np.float64)) * _user_idf(URM)[users]
    return sp.csr_matrix((weighted.astype(np.float32), URM.indices.copy(), URM.indptr.copy()), shape=URM.shape)


def apply_feature_weighting(URM, feature_weighting: str) -> sp.csr_matrix:
    """``URM`` weighted by ``"BM25"`` or ``"TF-IDF"``, or unchanged for ``"none"``."""
    if feature_weighting == "BM25":
        return okapi_bm25(URM)
    if feature_weighting == "TF-IDF":
        return tf_idf(URM)
    if feature_weighting == "none":
        return URM
    raise ValueError(f"unknown feature_weighting {feature_weighting!r}; valid: {', '.join(FEATURE_WEIGHTINGS)}")
