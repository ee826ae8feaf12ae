"""The landmarker-noise study's feature variants and noise measure (the study itself runs on the zoo)."""

import numpy as np

from Experiment_handler.landmarkers import landmarker_feature_names
from ReczillaClassifier.landmarker_noise import AVERAGED_PREFIX, median_relative_change, variants
from ReczillaClassifier.metadataset import MetaDataset


def test_median_relative_change_by_hand():
    first, second = np.array([1.0, 2.0, 0.0, 4.0]), np.array([1.5, 2.0, 9.0, 3.0])
    assert median_relative_change(first, second) == 0.25  # 0.5, 0, 0.25; the zero entry is left out


def test_variants_keep_the_reference_columns_and_add_averaged_ones():
    rng = np.random.default_rng(0)
    names = ["f_sparsity", *landmarker_feature_names()]
    landmarkers = rng.normal(size=(6, 4, 308))
    features = np.column_stack([rng.normal(size=4), landmarkers[0]])
    meta = MetaDataset(path="m.csv", sha256="0", metric="test_metric_NDCG_cut_10", minimize=False,
                       datasets=[f"D{i}/s" for i in range(4)], families=np.array(["a", "b", "c", "d"]),
                       feature_names=names, features=features, configurations=[], scores=np.zeros((4, 0)))
    table = variants(meta, landmarkers)
    assert table["reference"][0] is meta and table["reference"][1] is meta.features
    np.testing.assert_array_equal(table["resampled"][1][:, 1:], landmarkers[3])
    np.testing.assert_array_equal(table["resampled"][1][:, 0], features[:, 0])
    averaged, held = table["averaged"]
    assert averaged.feature_names[:309] == names and averaged.feature_names[309].startswith(AVERAGED_PREFIX)
    np.testing.assert_array_equal(averaged.features[:, :309], features)  # the reference columns stay
    np.testing.assert_allclose(averaged.features[:, 309:], landmarkers[:3].mean(axis=0))
    np.testing.assert_allclose(held[:, 309:], landmarkers[3:].mean(axis=0))
    np.testing.assert_array_equal(held[:, 1:309], landmarkers[3])
    only, only_held = table["averaged-only"]
    assert only.feature_names[0] == "f_sparsity" and len(only.feature_names) == 309
    np.testing.assert_allclose(only_held[:, 1:], landmarkers[3:].mean(axis=0))
