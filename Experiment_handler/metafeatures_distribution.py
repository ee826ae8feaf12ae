"""The 70 distribution meta-features of a training matrix (reference: ``Metafeatures/DistributionFeatures.py``).

A *distribution* is either the stored ratings themselves (kind ``rating``) or one
value per item / per user (kinds ``item``, ``user``) pre-aggregated from that
item's column or user's row by ``mean`` (sum / count; items or users without any
interaction have no mean and are left out), ``sum`` or ``count`` (both 0 for an
item or user without interactions). Each distribution is then summarised by ten
aggregations, computed in float64 (``x``: the values, ``n`` their number,
``mu`` their mean, ``m_k = mean((x - mu)^k)``):

- ``mean``, ``max``, ``min``, ``median``; ``std = sqrt(m_2)`` (population);
- ``mode``: the most frequent value, the smallest one on ties;
- ``entropy``: ``-sum_v p_v log2 p_v`` over the distinct values ``v``, ``p_v`` their frequency;
- ``Gini``: with ``y`` = ``x`` shifted by ``-min(x)`` when ``min(x) < 0``, plus ``1e-7``,
  sorted ascending and ``i = 1..n``: ``sum_i (2i - n - 1) y_i / (n sum_i y_i)``;
- ``skewness = m_3 / m_2^1.5`` and ``kurtosis = m_4 / m_2^2 - 3`` (biased, Fisher), which
  are 0 and -3 for a constant distribution, as the reference's SciPy 1.2 returned.

Names: ``f_dist_feature__kind_<kind>__pre_agg_func_<pre>__agg_func_<agg>``, ``<pre>``
being ``None`` for kind ``rating`` (10 + 2 x 3 x 10 = 70 features).
"""

import numpy as np
import scipy.sparse as sp

KINDS = ("rating", "item", "user")
PRE_AGGREGATIONS = ("mean", "sum", "count")
AGGREGATIONS = ("mean", "max", "min", "std", "median", "mode", "entropy", "Gini", "skewness", "kurtosis")


def _central_moment(x: np.ndarray, order: int) -> float:
    return float(np.mean((x - x.mean()) ** order))


def _mode(x: np.ndarray) -> float:
    values, counts = np.unique(x, return_counts=True)
    return float(values[np.argmax(counts)])


def _entropy(x: np.ndarray) -> float:
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _gini(x: np.ndarray) -> float:
    y = x - x.min() if x.min() < 0 else x.copy()
    y = np.sort(y + 1e-7)
    n = y.size
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * y).sum() / (n * y.sum()))


def _skewness(x: np.ndarray) -> float:
    m2 = _central_moment(x, 2)
    return _central_moment(x, 3) / m2**1.5 if m2 > 0 else 0.0


def _kurtosis(x: np.ndarray) -> float:
    m2 = _central_moment(x, 2)
    return (_central_moment(x, 4) / m2**2 if m2 > 0 else 0.0) - 3.0


_AGGREGATE = {
    "mean": lambda x: float(x.mean()),
    "max": lambda x: float(x.max()),
    "min": lambda x: float(x.min()),
    "std": lambda x: float(x.std()),
    "median": lambda x: float(np.median(x)),
    "mode": _mode,
    "entropy": _entropy,
    "Gini": _gini,
    "skewness": _skewness,
    "kurtosis": _kurtosis,
}


def distribution_feature_name(kind: str, pre_aggregation: str | None, aggregation: str) -> str:
    """The reference's name of one distribution feature."""
    return f"f_dist_feature__kind_{kind}__pre_agg_func_{pre_aggregation}__agg_func_{aggregation}"


def _feature_keys() -> list[tuple[str, str | None, str]]:
    """``(kind, pre_aggregation, aggregation)`` of each feature, in the reference's order."""
    return [
        (kind, pre, agg)
        for kind in KINDS
        for pre in ((None,) if kind == "rating" else PRE_AGGREGATIONS)
        for agg in AGGREGATIONS
    ]


def distribution_feature_names() -> list[str]:
    """The 70 names, in the reference's order (kind, then pre-aggregation, then aggregation)."""
    return [distribution_feature_name(*key) for key in _feature_keys()]


def _distributions(URM: sp.csr_matrix) -> dict[tuple[str, str | None], np.ndarray]:
    """The seven distributions keyed by ``(kind, pre_aggregation)``."""
    ratings = URM.data.astype(np.float64)
    n_users, n_items = URM.shape
    user_of_entry = np.repeat(np.arange(n_users), np.diff(URM.indptr))
    result = {("rating", None): ratings}
    for kind, owner, size in (("item", URM.indices, n_items), ("user", user_of_entry, n_users)):
        count = np.bincount(owner, minlength=size).astype(np.float64)
        total = np.bincount(owner, weights=ratings, minlength=size)
        result[(kind, "count")] = count
        result[(kind, "sum")] = total
        result[(kind, "mean")] = total[count > 0] / count[count > 0]
    return result


def distribution_features(URM: sp.csr_matrix) -> dict[str, float]:
    """All 70 distribution features of ``URM`` (CSR, at least one stored rating)."""
    if URM.nnz == 0:
        raise ValueError("distribution features need a training matrix with at least one interaction")
    distributions = _distributions(URM)
    return {
        distribution_feature_name(kind, pre, agg): _AGGREGATE[agg](distributions[(kind, pre)])
        for kind, pre, agg in _feature_keys()
    }
