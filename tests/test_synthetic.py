import time

import numpy as np
import pytest

from Data_manager.synthetic import SYNTHETIC_CONFIGS, SyntheticConfig, generate_synthetic

WINDOW = (1_420_070_400, 1_420_070_400 + 5 * 365 * 86_400)


@pytest.fixture(scope="module")
def small():
    return generate_synthetic("SyntheticSmall")


def _arrays(dataset):
    return [dataset.URM_all.indptr, dataset.URM_all.indices, dataset.URM_all.data,
            dataset.URM_timestamp.indptr, dataset.URM_timestamp.indices, dataset.URM_timestamp.data]


def test_same_name_gives_identical_bytes(small):
    again = generate_synthetic("SyntheticSmall")
    for first, second in zip(_arrays(small), _arrays(again)):
        assert first.dtype == second.dtype and first.tobytes() == second.tobytes()
    assert again.user_ids == small.user_ids and again.item_ids == small.item_ids


def test_other_seed_gives_other_data(small):
    config = SYNTHETIC_CONFIGS["SyntheticSmall"]
    other = generate_synthetic("Other", SyntheticConfig(config.n_users, config.n_items, config.n_interactions, seed=99))
    assert other.URM_all.shape == small.URM_all.shape
    assert not np.array_equal(other.URM_all.indices, small.URM_all.indices)


def test_small_is_fast():
    start = time.perf_counter()
    generate_synthetic("SyntheticSmall")
    assert time.perf_counter() - start < 0.5


def test_small_shape_and_size(small):
    assert small.name == "SyntheticSmall"
    assert small.URM_all.shape == (300, 200)
    assert 5_000 <= small.URM_all.nnz <= 6_500
    assert small.has_timestamps and not small.is_implicit
    assert (len(small.user_ids), len(small.item_ids)) == (300, 200)


def test_every_user_has_three_distinct_items(small):
    URM = small.URM_all
    per_user = np.diff(URM.indptr)
    assert per_user.min() >= 3
    assert per_user.max() <= 200 // 3
    rows = np.repeat(np.arange(URM.shape[0]), per_user)
    pairs = rows.astype(np.int64) * URM.shape[1] + URM.indices
    assert np.unique(pairs).size == URM.nnz


def test_ratings_are_integers_1_to_5_with_item_signal(small):
    URM = small.URM_all.tocoo()
    assert URM.data.dtype == np.float32
    assert set(np.unique(URM.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(URM.data)) == 5
    # item quality is learnable: two disjoint halves of the users agree on the items' mean ratings
    means, counts = [], []
    for half in (URM.row % 2 == 0, URM.row % 2 == 1):
        counts.append(np.bincount(URM.col[half], minlength=200))
        means.append(np.bincount(URM.col[half], weights=URM.data[half], minlength=200) / np.maximum(counts[-1], 1))
    rated_by_both = (counts[0] > 0) & (counts[1] > 0)
    assert np.corrcoef(means[0][rated_by_both], means[1][rated_by_both])[0, 1] > 0.5


def test_popularity_and_activity_are_skewed(small):
    popularity = np.sort(np.bincount(small.URM_all.indices, minlength=200))[::-1]
    assert popularity[:20].sum() > 0.3 * popularity.sum()  # top 10% of items hold > 30% of interactions
    activity = np.diff(small.URM_all.indptr)
    assert activity.max() > 3 * np.median(activity)


def test_timestamps_are_int64_seconds_in_window_with_user_spans(small):
    stamps = small.URM_timestamp
    assert stamps.dtype == np.int64
    assert np.array_equal(stamps.indptr, small.URM_all.indptr) and np.array_equal(stamps.indices, small.URM_all.indices)
    assert WINDOW[0] <= stamps.data.min() and stamps.data.max() <= WINDOW[1]
    spans = np.maximum.reduceat(stamps.data, stamps.indptr[:-1]) - np.minimum.reduceat(stamps.data, stamps.indptr[:-1])
    assert np.median(spans) < (WINDOW[1] - WINDOW[0]) / 2  # each user is active in part of the window only
    assert np.unique(stamps.data).size > 0.95 * stamps.nnz


def test_bad_configuration_is_one_line_error():
    with pytest.raises(ValueError, match="n_interactions"):
        SyntheticConfig(n_users=10, n_items=30, n_interactions=10, seed=0)
    with pytest.raises(KeyError, match="SyntheticSmall"):
        generate_synthetic("NoSuchSynthetic")


# --- the synthetic zoo: the meta-learner's built-in training data ---


def test_zoo_members_are_registered_apart_from_the_default_set():
    from Data_manager.datasets import DATASETS, default_dataset_names
    from Data_manager.synthetic import SYNTHETIC_ZOO

    assert list(SYNTHETIC_ZOO) == [f"SyntheticZoo{k:02d}" for k in range(1, 31)]
    for name in SYNTHETIC_ZOO:
        assert DATASETS[name].family == "SyntheticZoo" and name not in default_dataset_names()
    configs = list(SYNTHETIC_ZOO.values())
    assert len({(c.seed, c.n_users, c.n_items) for c in configs}) == 30

    def spread(field):
        values = [getattr(c, field) for c in configs]
        return min(values), max(values)

    assert spread("popularity_exponent")[0] < 0.3 and spread("popularity_exponent")[1] > 1.4
    assert spread("affinity_strength")[0] < 0.3 and spread("affinity_strength")[1] > 2.2
    assert spread("n_groups")[0] <= 3 and spread("n_groups")[1] >= 30
    assert spread("activity_sigma")[0] < 0.5 and spread("activity_sigma")[1] > 1.4
    densities = [c.n_interactions / (c.n_users * c.n_items) for c in configs]
    assert min(densities) < 0.03 and max(densities) > 0.07
    assert {c.rating_scale for c in configs} == {"1-5", "1-10", "0.5-5", "implicit"}
    assert all(c.n_interactions >= 6 * c.n_users for c in configs)  # landmarkers need 2+ training items


@pytest.mark.parametrize("name, levels, implicit", [
    ("SyntheticZoo01", set(range(1, 6)), False),
    ("SyntheticZoo02", set(range(1, 11)), False),
    ("SyntheticZoo03", {k / 2 for k in range(1, 11)}, False),
    ("SyntheticZoo04", {1.0}, True),
])
def test_zoo_rating_scales(name, levels, implicit):
    from Data_manager.synthetic import SYNTHETIC_ZOO

    dataset = generate_synthetic(name)
    values = set(np.unique(dataset.URM_all.data).tolist())
    assert values <= levels and len(values) >= min(len(levels), 4)
    assert dataset.is_implicit == implicit and dataset.has_timestamps
    assert dataset.URM_all.shape == (SYNTHETIC_ZOO[name].n_users, SYNTHETIC_ZOO[name].n_items)


def test_unknown_rating_scale_is_refused():
    with pytest.raises(ValueError, match="rating_scale must be one of"):
        SyntheticConfig(300, 200, 6_000, seed=1, rating_scale="stars")
