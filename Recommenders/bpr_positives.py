"""The positive interactions that BPR-style models (BPR-MF, SLIM-BPR) sample from."""

import numpy as np
import scipy.sparse as sp


def bpr_positives(URM_train: sp.csr_matrix, positive_threshold_BPR: float | None) -> sp.csr_matrix:
    """Every interaction when the threshold is ``None``; else those valued at least the threshold, as 1.0."""
    if positive_threshold_BPR is None:
        return URM_train
    positives = URM_train.copy()
    positives.data = (positives.data >= positive_threshold_BPR).astype(np.float32)
    positives.eliminate_zeros()
    if positives.nnz == 0:
        raise ValueError(f"no interaction reaches positive_threshold_BPR={positive_threshold_BPR}")
    return positives
