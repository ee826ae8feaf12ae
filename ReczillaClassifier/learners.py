"""Meta-learners: from meta-features (X) to one score per selected configuration (Y, higher is better).

The reference's four (``classifier.run_metalearner``):

- ``xgboost``: a regressor chain of XGBoost regressors (squared error, library
  defaults, which sample nothing: the seed changes nothing); link ``k`` sees the meta-features and the true scores of configurations
  ``0..k-1`` when fitted, their predictions when predicting (scikit-learn's
  ``RegressorChain``);
- ``knn``: standardised features, the mean of the 5 nearest training datasets;
- ``linear``: standardised features, ridge regression (``alpha=10``) per configuration;
- ``svm-poly``: standardised features, an epsilon-SVR with a cubic polynomial kernel
  per configuration (scikit-learn defaults).

Ours, ranking-aware (``ranker``): extremely randomised trees fitted to each dataset's
scores rescaled to [0, 1] over the selected configurations (0 the worst, 1 the best
of them), so that every dataset counts equally and only the order and gaps between
configurations matter; it chooses by these. A second forest on the raw scores gives
the predicted metric values.

Every learner exposes ``fit``, ``predict`` (scores), ``choice_scores`` (what the choice
maximises; ``predict`` unless ranking-aware) and ``state`` / ``from_state``: JSON
parameters, numpy arrays and, for XGBoost, the boosters' own JSON models. No pickle:
every fitted model is rebuilt from these (linear, SVR and forests are evaluated
directly from their arrays; k-NN stores its training points).
"""

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

REFERENCE_LEARNERS = ("xgboost", "knn", "linear", "svm-poly")
LEARNERS = (*REFERENCE_LEARNERS, "ranker")


class LearnerUnavailable(RuntimeError):
    """A meta-learner whose library is not installed."""


def _standardiser(X: np.ndarray) -> dict[str, np.ndarray]:
    scaler = StandardScaler().fit(X)
    return {"mean": scaler.mean_, "scale": scaler.scale_}


def _standardise(arrays: dict, X: np.ndarray) -> np.ndarray:
    return (X - arrays["mean"]) / arrays["scale"]


class MetaLearner:
    """Base: ``name``, ``params`` (JSON) and ``arrays`` (numpy) make the fitted state."""

    name = ""
    uses_seed = False  # whether ``fit``'s seed changes the fitted model
    chooses_by_rank = False  # whether ``choice_scores`` is a separate model from ``predict``

    def __init__(self, params: dict | None = None, arrays: dict | None = None):
        self.params = dict(params or {})
        self.arrays = dict(arrays or {})

    def fit(self, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> "MetaLearner":
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_values(self, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> "MetaLearner":
        """Fit only what ``predict`` needs (``fit`` unless choices come from another model)."""
        return self.fit(X, Y, seed)

    def choice_scores(self, X: np.ndarray) -> np.ndarray:
        return self.predict(X)

    def blobs(self) -> dict[str, bytes]:
        """Files in the learner's own format (name -> bytes), besides the arrays."""
        return {}

    def load_blobs(self, blobs: dict[str, bytes]) -> None:
        """Rebuild from ``blobs()``'s files."""


class LinearLearner(MetaLearner):
    name = "linear"

    def fit(self, X, Y, seed=0):
        self.arrays = _standardiser(X)
        ridge = Ridge(alpha=10.0).fit(_standardise(self.arrays, X), Y)
        self.arrays.update(coef=ridge.coef_, intercept=ridge.intercept_)
        return self

    def predict(self, X):
        return _standardise(self.arrays, X) @ self.arrays["coef"].T + self.arrays["intercept"]


class KnnLearner(MetaLearner):
    name = "knn"
    neighbours = 5

    def fit(self, X, Y, seed=0):
        self.arrays = _standardiser(X)
        self.arrays.update(points=_standardise(self.arrays, X), targets=np.asarray(Y, dtype=float))
        self._model = None
        return self

    def predict(self, X):
        if getattr(self, "_model", None) is None:
            points = self.arrays["points"]
            self._model = KNeighborsRegressor(n_neighbors=min(self.neighbours, len(points)))
            self._model.fit(points, self.arrays["targets"])
        return self._model.predict(_standardise(self.arrays, X))


class SvmPolyLearner(MetaLearner):
    """One SVR per configuration: ``f(x) = sum_j a_j (gamma <x, s_j> + coef0) ** degree + b``."""

    name = "svm-poly"

    def fit(self, X, Y, seed=0):
        self.arrays = _standardiser(X)
        Z = _standardise(self.arrays, X)
        vectors, coefs, starts, intercepts, gammas = [], [], [0], [], []
        for column in range(Y.shape[1]):
            svr = SVR(kernel="poly").fit(Z, Y[:, column])
            vectors.append(svr.support_vectors_)
            coefs.append(svr.dual_coef_.ravel())
            starts.append(starts[-1] + len(svr.dual_coef_.ravel()))
            intercepts.append(float(svr.intercept_[0]))
            gammas.append(float(svr._gamma))
        self.params = {"degree": 3, "coef0": 0.0}
        self.arrays.update(vectors=np.vstack(vectors), coefs=np.concatenate(coefs), starts=np.array(starts),
                           intercepts=np.array(intercepts), gammas=np.array(gammas))
        return self

    def predict(self, X):
        Z = _standardise(self.arrays, X)
        a = self.arrays
        out = np.empty((len(Z), len(a["intercepts"])))
        for column in range(out.shape[1]):
            rows = slice(a["starts"][column], a["starts"][column + 1])
            kernel = (a["gammas"][column] * Z @ a["vectors"][rows].T + self.params["coef0"]) ** self.params["degree"]
            out[:, column] = kernel @ a["coefs"][rows] + a["intercepts"][column]
        return out


def _xgboost():
    try:
        import xgboost
    except ImportError:
        raise LearnerUnavailable("the xgboost meta-learner needs XGBoost: pip install '.[meta]'") from None
    return xgboost


class XGBoostChainLearner(MetaLearner):
    name = "xgboost"

    def fit(self, X, Y, seed=0):
        xgb = _xgboost()
        self._boosters = []
        for column in range(Y.shape[1]):
            model = xgb.XGBRegressor(objective="reg:squarederror", random_state=seed, n_jobs=1)
            model.fit(np.hstack([X, Y[:, :column]]), Y[:, column])
            self._boosters.append(model.get_booster())
        self.params = {"links": Y.shape[1]}
        return self

    def predict(self, X):
        out = np.empty((len(X), self.params["links"]))
        for column, booster in enumerate(self._boosters):
            out[:, column] = booster.inplace_predict(np.hstack([X, out[:, :column]]))
        return out

    def blobs(self):
        return {f"xgboost_link_{k}.json": bytes(b.save_raw(raw_format="json")) for k, b in enumerate(self._boosters)}

    def load_blobs(self, blobs):
        xgb = _xgboost()
        self._boosters = []
        for k in range(self.params["links"]):
            booster = xgb.Booster()
            try:
                booster.load_model(bytearray(blobs[f"xgboost_link_{k}.json"]))
            except (KeyError, xgb.core.XGBoostError) as error:
                raise ValueError(f"XGBoost link {k}: {' '.join(str(error).split()[:12])}") from None
            self._boosters.append(booster)


def forest_arrays(forest: ExtraTreesRegressor, prefix: str) -> dict[str, np.ndarray]:
    """A fitted forest's trees as flat node arrays (children offset to global node numbers)."""
    left, right, feature, threshold, value, roots = [], [], [], [], [], []
    offset = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        roots.append(offset)
        left.append(np.where(tree.children_left >= 0, tree.children_left + offset, -1))
        right.append(np.where(tree.children_right >= 0, tree.children_right + offset, -1))
        feature.append(np.maximum(tree.feature, 0))
        threshold.append(tree.threshold)
        value.append(tree.value[:, :, 0])
        offset += tree.node_count
    return {f"{prefix}_{name}": np.concatenate(parts) for name, parts in (
        ("left", left), ("right", right), ("feature", feature), ("threshold", threshold), ("value", value))} | {
        f"{prefix}_roots": np.array(roots)}


def forest_predict(arrays: dict, prefix: str, X: np.ndarray) -> np.ndarray:
    """The mean over trees of the leaf values reached (tests as scikit-learn: float32 ``x <= threshold``)."""
    left, right = arrays[f"{prefix}_left"], arrays[f"{prefix}_right"]
    feature, threshold, value = arrays[f"{prefix}_feature"], arrays[f"{prefix}_threshold"], arrays[f"{prefix}_value"]
    X32 = np.asarray(X, dtype=np.float32)
    rows = np.arange(len(X32))
    total = np.zeros((len(X32), value.shape[1]))
    for root in arrays[f"{prefix}_roots"]:
        node = np.full(len(X32), root)
        while (inner := left[node] >= 0).any():
            go_left = X32[rows, feature[node]] <= threshold[node]
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        total += value[node]
    return total / len(arrays[f"{prefix}_roots"])


def range_normalised(Y: np.ndarray) -> np.ndarray:
    """Each row rescaled to [0, 1] (worst to best); a row of equal scores becomes all 1."""
    low, high = Y.min(axis=1, keepdims=True), Y.max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return np.where(high > low, (Y - low) / span, 1.0)


class RankerLearner(MetaLearner):
    name = "ranker"
    uses_seed = True
    chooses_by_rank = True
    trees = 100

    def _forest(self, X, targets, seed):
        return ExtraTreesRegressor(n_estimators=self.trees, min_samples_leaf=2, random_state=seed, n_jobs=1).fit(
            X, targets)

    def fit(self, X, Y, seed=0):
        self.fit_values(X, Y, seed)
        self.arrays |= forest_arrays(self._forest(X, range_normalised(Y), seed), "choice")
        return self

    def fit_values(self, X, Y, seed=0):
        self.arrays = forest_arrays(self._forest(X, Y, seed + 1), "value")
        return self

    def predict(self, X):
        return forest_predict(self.arrays, "value", X)

    def choice_scores(self, X):
        return forest_predict(self.arrays, "choice", X)


_CLASSES = {cls.name: cls for cls in (XGBoostChainLearner, KnnLearner, LinearLearner, SvmPolyLearner, RankerLearner)}


def make_learner(name: str, params: dict | None = None, arrays: dict | None = None) -> MetaLearner:
    """A learner by name (one of ``LEARNERS``), optionally with a saved state."""
    if name not in _CLASSES:
        raise ValueError(f"unknown meta-learner {name!r}; valid: {', '.join(LEARNERS)}")
    return _CLASSES[name](params, arrays)
