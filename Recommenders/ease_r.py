"""EASE-R (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data").

Closed form: ``G = X^T X + l2_norm * I``; ``P = G^-1``;
``B[i, j] = -P[i, j] / P[j, j]``, ``B[j, j] = 0``; ``score(u, j) = sum_i X[u, i] B[i, j]``.

Reference bug fixed: the reference replaced the Gram diagonal by each item's
*number* of interactions plus ``l2_norm`` instead of adding ``l2_norm`` to the sum
of squared values. On 0/1 data the two agree; on ratings the reference's matrix is
not positive definite and EASE-R ranks almost at random (NDCG@10 0.002 on
SyntheticLarge), so its published rows on explicit datasets are not comparable.

Everything is float32. The inverse is a Cholesky one (LAPACK ``potrf`` +
``potri``), in place: one dense ``n_items x n_items`` matrix holds ``G``, then
``P``, then ``B``. ``topK`` (None: keep ``B`` dense) keeps the largest values of
each column; ``normalize_matrix`` L2-normalises the URM's rows, then its columns, first.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.hyperparameter_space import HyperparameterSpace, Real
from Recommenders.matrix_products import column_sums_of_squares, gram_matrix
from Recommenders.similarity import column_top_k, top_k_memory_bytes
from Recommenders.similarity_recommenders import ItemSimilarityRecommender

#: Rows symmetrised at once after the triangular inverse.
_BLOCK = 512


def _symmetric_inverse(G: np.ndarray) -> np.ndarray:
    """Inverse of the symmetric positive definite C-ordered float32 ``G``, computed in place."""
    if G.dtype != np.float32 or not G.flags.c_contiguous:
        raise ValueError("EASE-R inverts a C-ordered float32 matrix in place")
    a = G.T  # the same memory in Fortran order (G is symmetric): LAPACK works on it in place
    factor, info = lapack.spotrf(a, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"EASE-R: the Gram matrix is not positive definite (potrf info={info}); use a larger l2_norm"
        )
    _, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE-R: the Gram matrix is singular (potri info={info})")
    _symmetrize_from_lower(G)  # a's upper triangle is G's lower one
    return G


def _symmetrize_from_lower(G: np.ndarray) -> None:
    """Make ``G`` symmetric from its lower triangle, a block of rows at a time."""
    n = G.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        kept = np.tril(G[start:stop, start:stop])
        G[start:stop, start:stop] = kept + np.tril(kept, -1).T
        G[:start, start:stop] = G[start:stop, :start].T


def _l2_normalize_columns(X) -> sp.csr_matrix:
    """``X`` with each nonzero column divided by its L2 norm, as CSR float32."""
    X = sp.csc_matrix(X, dtype=np.float32, copy=True)
    norms = np.sqrt(column_sums_of_squares(X))
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr)).astype(np.float32)
    return X.tocsr()


class EASE_R_Recommender(ItemSimilarityRecommender):
    """EASE-R with a dense item-item matrix (formulas in the module docstring)."""

    def _fit(self, URM_train: sp.csr_matrix, *, l2_norm: float, topK: int | None, normalize_matrix: bool) -> None:
        if l2_norm < 0:
            raise ValueError(f"l2_norm must be non-negative, got {l2_norm}")
        URM = URM_train
        if normalize_matrix:
            URM = _l2_normalize_columns(_l2_normalize_columns(URM.T).T)
        G = gram_matrix(URM)
        diagonal = np.diag_indices(G.shape[0])
        G[diagonal] += l2_norm
        B = _symmetric_inverse(G)
        del G
        B /= -np.diag(B).copy()
        B[diagonal] = 0.0
        self.URM_model_ = URM
        self.W_ = B if topK is None else column_top_k(B, topK)

    @classmethod
    def estimate_memory_bytes(cls, n_users: int, n_items: int, n_interactions: int, **hyperparameters) -> int:
        """Base estimate + the dense float32 item-item matrix and two blocks of its rows + the
        top-k model (when ``topK`` is set) + the normalised matrix's two copies (when normalised)."""
        hyperparameters = cls.with_defaults(hyperparameters)
        topK = hyperparameters["topK"]
        dense = 4 * n_items * n_items + 2 * _BLOCK * n_items * 4
        top_k = 0 if topK is None else top_k_memory_bytes(n_items, n_items, topK)
        normalized = 2 * (n_interactions * 8 + (n_items + 1) * 8) if hyperparameters["normalize_matrix"] else 0
        return super().estimate_memory_bytes(n_users, n_items, n_interactions) + dense + top_k + normalized


ALGORITHM_SPECS = [
    AlgorithmSpec(
        "EASE_R_Recommender",
        EASE_R_Recommender,
        HyperparameterSpace({"l2_norm": Real(1e0, 1e7, prior="log-uniform")}, {"l2_norm": 1e3}),
        fit_args={"topK": None, "normalize_matrix": False},
        max_points=1000,
    ),
]
