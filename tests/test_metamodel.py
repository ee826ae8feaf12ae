"""Meta-learners against scikit-learn, saving without pickle, loading in a fresh process, refusing bad folders."""

import hashlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.linear_model import Ridge
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from ReczillaClassifier import evaluate
from ReczillaClassifier.learners import LearnerUnavailable, forest_arrays, forest_predict, make_learner
from ReczillaClassifier.metadataset import load_metadataset
from ReczillaClassifier.metamodel import (MetaModelError, load_metamodel, metamodel_checksum, save_metamodel,
                                         train_metamodel)
from tests.conftest import REPO_ROOT, run_module
from tests.metalearner_helpers import synthetic_table

RNG = np.random.default_rng(3)
X, Y, X_NEW = RNG.normal(size=(25, 4)), RNG.normal(size=(25, 3)), RNG.normal(size=(6, 4))


@pytest.mark.parametrize("name, reference", [
    ("linear", make_pipeline(StandardScaler(), MultiOutputRegressor(Ridge(alpha=10)))),
    ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=5))),
    ("svm-poly", make_pipeline(StandardScaler(), MultiOutputRegressor(SVR(kernel="poly")))),
])
def test_learners_match_the_reference_pipelines(name, reference):
    ours = make_learner(name).fit(X, Y)
    np.testing.assert_allclose(ours.predict(X_NEW), reference.fit(X, Y).predict(X_NEW), rtol=1e-9, atol=1e-12)


def test_xgboost_chain_matches_sklearn_regressor_chain():
    xgb = pytest.importorskip("xgboost")  # installed by `make test` (the meta extra)
    from sklearn.multioutput import RegressorChain

    reference = RegressorChain(xgb.XGBRegressor(objective="reg:squarederror", random_state=0, n_jobs=1)).fit(X, Y)
    np.testing.assert_allclose(make_learner("xgboost").fit(X, Y).predict(X_NEW), reference.predict(X_NEW),
                               rtol=1e-6)


def test_forest_arrays_predict_as_sklearn():
    forest = ExtraTreesRegressor(n_estimators=7, min_samples_leaf=2, random_state=0).fit(X, Y)
    arrays = forest_arrays(forest, "f")
    np.testing.assert_allclose(forest_predict(arrays, "f", X_NEW), forest.predict(X_NEW), rtol=1e-12)
    np.testing.assert_allclose(forest_predict(arrays, "f", X), forest.predict(X), rtol=1e-12)


def test_ranker_chooses_by_normalised_scores():
    ranker = make_learner("ranker").fit(X, Y, seed=1)
    choice = ranker.choice_scores(X_NEW)
    assert choice.shape == (6, 3) and (choice >= 0).all() and (choice <= 1).all()
    assert ranker.predict(X_NEW).shape == (6, 3)
    assert not np.allclose(make_learner("ranker").fit(X, Y, seed=2).choice_scores(X_NEW), choice)


def test_scikit_learn_learners_work_without_xgboost(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost now raises ImportError
    assert "xgboost" not in evaluate.available_learners() and "ranker" in evaluate.available_learners()
    with pytest.raises(LearnerUnavailable, match=r"pip install '\.\[meta\]'"):
        make_learner("xgboost").fit(X, Y)
    assert make_learner("linear").fit(X, Y).predict(X_NEW).shape == (6, 3)


@pytest.fixture(scope="module")
def meta(tmp_path_factory):
    path = tmp_path_factory.mktemp("meta") / "meta.csv"
    synthetic_table(["f_x", "f_y", "f_z"], n_datasets=10).to_csv(path, index=False)
    return load_metadataset(path, "PRECISION_cut_10")


PREDICT_SCRIPT = """
import json, sys
import numpy as np
from ReczillaClassifier.metamodel import load_metamodel
model = load_metamodel(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
print(json.dumps({"values": model.learner.predict(X).tolist(), "choice": model.learner.choice_scores(X).tolist(),
                  "ranking": model.ranking(dict(zip(model.feature_names, X[0])))}))
"""


@pytest.mark.parametrize("learner", ["linear", "knn", "svm-poly", "ranker", "xgboost"])
def test_round_trip_in_a_fresh_process(meta, learner, tmp_path):
    if learner == "xgboost":
        pytest.importorskip("xgboost")
    model = train_metamodel(meta, learner, 3, 2, seed=0)
    assert len(model.configurations) == 3 and len(model.feature_names) == 2
    assert all(np.isfinite(model.intervals)) and all(v > 0 for v in model.intervals)
    folder = save_metamodel(model, tmp_path / "model")
    assert not list(folder.glob("*.pkl")) and (folder / "metamodel.json").is_file()
    manifest = json.loads((folder / "metamodel.json").read_text())
    assert manifest["training"]["sha256"] == meta.sha256 and manifest["feature_names"] == model.feature_names
    X_check = meta.features[:4][:, model.training["feature_indices"]]
    result = _run_script(folder, X_check)
    np.testing.assert_allclose(result["values"], model.learner.predict(X_check), rtol=1e-12)
    np.testing.assert_allclose(result["choice"], model.learner.choice_scores(X_check), rtol=1e-12)
    assert result["ranking"] == model.ranking(dict(zip(model.feature_names, X_check[0])))


def _run_script(folder, X_check):
    completed = subprocess.run([sys.executable, "-c", PREDICT_SCRIPT, str(folder), json.dumps(X_check.tolist())],
                               capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture
def saved(meta, tmp_path):
    return save_metamodel(train_metamodel(meta, "linear", 3, 2, with_intervals=False), tmp_path / "model")


def _refused(folder, match):
    with pytest.raises(MetaModelError, match=match) as error:
        load_metamodel(folder)
    assert "\n" not in str(error.value)


def test_tampered_arrays_are_refused(saved):
    data = bytearray((saved / "arrays.npz").read_bytes())
    data[-40] ^= 1
    (saved / "arrays.npz").write_bytes(bytes(data))
    _refused(saved, "sha256 mismatch")


def test_edited_manifest_is_refused(saved):
    manifest = json.loads((saved / "metamodel.json").read_text())
    manifest["configurations"][0]["alg_name"] = "EASE_R_Recommender"
    (saved / "metamodel.json").write_text(json.dumps(manifest))
    _refused(saved, "checksum mismatch")


def test_pickled_arrays_are_refused_even_with_matching_checksums(saved):
    buffer = io.BytesIO()
    np.savez(buffer, coef=np.array([object()], dtype=object))  # needs pickle to load
    (saved / "arrays.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((saved / "metamodel.json").read_text())
    manifest["files"]["arrays.npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    manifest["checksum"] = metamodel_checksum(manifest)
    (saved / "metamodel.json").write_text(json.dumps(manifest))
    _refused(saved, "inconsistent meta-model")


def test_foreign_folders_are_refused(tmp_path, small_split):
    _refused(small_split, "not a meta-model folder")
    (tmp_path / "metamodel.json").write_text('{"format": "something-else"}')
    _refused(tmp_path, "not a RecZilla meta-model")
    (tmp_path / "metamodel.json").write_bytes(b"\xff\xfe garbage")
    _refused(tmp_path, "not valid JSON")


def test_cli_refuses_a_tampered_model_with_one_line(saved, small_split):
    (saved / "metamodel.json").write_text((saved / "metamodel.json").read_text().replace('"linear"', '"knn"'))
    result = run_module("ReczillaClassifier.run_reczilla", "--metamodel_filepath", saved,
                        "--dataset_split_path", small_split)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"run_reczilla: error: {saved / 'metamodel.json'}: "
                                                  "checksum mismatch (the file was modified)"]
