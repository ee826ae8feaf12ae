import numpy as np
import pytest
import scipy.sparse as sp

from Data_manager.dataset_format import Dataset
from Data_manager.split_format import write_split
from Data_manager.splitters import (
    SPLITTERS,
    DataSplitter_global_timestamp,
    DataSplitter_leave_k_out_last,
    DataSplitter_leave_k_out_random,
    SplitError,
    SplitterNotApplicable,
    UnknownSplitter,
    dataset_fingerprint,
    get_splitter,
)
from Data_manager.synthetic import generate_synthetic

# Hand example, one block of users (items, ratings, timestamps per user):
#   user 0: items 0..3, ts 40,10,30,20  -> test item 0 (ts 40), validation item 2 (ts 30), train 1, 3
#   user 1: 2 interactions              -> dropped (fewer than 3)
#   user 2: items 1,2,4, all ts 5       -> ties by item: test 4, validation 2, train 1
BLOCK = [
    ([0, 1, 2, 3], [1, 5, 3, 4], [40, 10, 30, 20]),
    ([0, 1], [2, 2], [1, 2]),
    ([1, 2, 4], [3, 3, 3], [5, 5, 5]),
]
N_BLOCKS = 11  # the reference requires more than 10 train and test interactions


def _dataset(blocks=N_BLOCKS, with_timestamps=True, name="Hand"):
    rows, cols, ratings, stamps = [], [], [], []
    for block in range(blocks):
        for offset, (items, values, times) in enumerate(BLOCK):
            rows += [block * len(BLOCK) + offset] * len(items)
            cols += items
            ratings += values
            stamps += times
    shape = (blocks * len(BLOCK), 5)
    URM = sp.csr_matrix((np.array(ratings, np.float32), (rows, cols)), shape=shape)
    URM_timestamp = sp.csr_matrix((np.array(stamps, np.int64), (rows, cols)), shape=shape) if with_timestamps else None
    return Dataset(name, URM, [str(u) for u in range(shape[0])], [str(i) for i in range(5)], URM_timestamp)


@pytest.fixture(scope="module")
def small():
    return generate_synthetic("SyntheticSmall")


def _entries(matrix):
    coo = matrix.tocoo()
    return {(int(r), int(c)): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}


def _check_partition(dataset, split):
    """Disjoint parts whose union is the dataset's rows at user_index, values kept."""
    parts = [_entries(m) for m in split.matrices().values()]
    union = {}
    for part in parts:
        assert not set(part) & set(union)
        union.update(part)
    kept = _entries(dataset.URM_all[split.user_index])
    assert union == kept
    assert all(m.shape == (split.user_index.size, dataset.URM_all.shape[1]) for m in split.matrices().values())


def test_leave_last_out_hand_example():
    dataset = _dataset()
    split = DataSplitter_leave_k_out_last().split(dataset)
    assert split.info["ordering"] == "timestamp"
    assert split.user_index.tolist() == [u for b in range(N_BLOCKS) for u in (3 * b, 3 * b + 2)]
    for row in range(0, 2 * N_BLOCKS, 2):
        assert split.URM_test[row].indices.tolist() == [0]
        assert split.URM_validation[row].indices.tolist() == [2]
        assert split.URM_train[row].indices.tolist() == [1, 3]
        assert split.URM_test[row + 1].indices.tolist() == [4]
        assert split.URM_validation[row + 1].indices.tolist() == [2]
        assert split.URM_train[row + 1].indices.tolist() == [1]
    assert split.URM_test[0].data.tolist() == [1.0]  # the rating travels with the interaction
    _check_partition(dataset, split)


def test_leave_last_out_without_timestamps_orders_by_rating():
    dataset = _dataset(with_timestamps=False)
    split = DataSplitter_leave_k_out_last().split(dataset)
    assert split.info["ordering"] == "rating"
    # user 0: ratings 1,5,3,4 on items 0..3 -> test item 1 (5), validation item 3 (4)
    assert split.URM_test[0].indices.tolist() == [1] and split.URM_validation[0].indices.tolist() == [3]
    # user 2: equal ratings -> the higher item index is held out first
    assert split.URM_test[1].indices.tolist() == [4] and split.URM_validation[1].indices.tolist() == [2]
    _check_partition(dataset, split)


def test_leave_k_out_with_k2_and_without_validation():
    dataset = _dataset()
    split = DataSplitter_leave_k_out_last(k_out=2, use_validation=False).split(dataset)
    assert split.URM_validation is None
    assert split.user_index.tolist() == [3 * b + o for b in range(N_BLOCKS) for o in (0, 2)]  # 3 >= 2 + 1
    assert split.URM_test[0].indices.tolist() == [0, 2] and split.URM_train[0].indices.tolist() == [1, 3]
    _check_partition(dataset, split)


@pytest.mark.parametrize("splitter_class", [DataSplitter_leave_k_out_last, DataSplitter_leave_k_out_random])
def test_leave_one_out_on_synthetic(small, splitter_class):
    split = splitter_class().split(small)
    kept_counts = np.diff(small.URM_all.indptr)
    assert np.array_equal(split.user_index, np.flatnonzero(kept_counts >= 3))
    assert np.all(np.diff(split.URM_test.indptr) == 1)
    assert np.all(np.diff(split.URM_validation.indptr) == 1)
    assert np.all(np.diff(split.URM_train.indptr) >= 1)
    _check_partition(small, split)


def test_leave_last_out_holds_out_each_users_latest(small):
    split = DataSplitter_leave_k_out_last().split(small)
    stamps = small.URM_timestamp
    for row, user in enumerate(split.user_index):
        user_stamps = dict(zip(stamps[user].indices, stamps[user].data))
        test_time = user_stamps[split.URM_test[row].indices[0]]
        validation_time = user_stamps[split.URM_validation[row].indices[0]]
        train_times = [user_stamps[i] for i in split.URM_train[row].indices]
        assert test_time >= validation_time >= max(train_times)
        assert test_time == max(user_stamps.values())


def test_random_is_reproducible_per_seed_and_differs_across_seeds(small):
    first = DataSplitter_leave_k_out_random(seed=3).split(small)
    again = DataSplitter_leave_k_out_random(seed=3).split(small)
    other = DataSplitter_leave_k_out_random(seed=4).split(small)
    assert np.array_equal(first.URM_test.indices, again.URM_test.indices)
    assert np.array_equal(first.URM_validation.indices, again.URM_validation.indices)
    assert (first.URM_test.indices != other.URM_test.indices).mean() > 0.5
    assert first.info["params"] == {"k_out": 1, "use_validation": True, "seed": 3}
    assert first.info["ordering"] == "random"


def _percentile_lower(values, q):
    ordered = np.sort(values)
    return ordered[int(np.floor(q / 100 * (ordered.size - 1)))]


def test_global_timestamp_cuts_at_one_instant(small):
    split = DataSplitter_global_timestamp().split(small)
    t_val = _percentile_lower(small.URM_timestamp.data, 60)
    t_test = _percentile_lower(small.URM_timestamp.data, 80)
    assert split.info["cut_timestamps"] == {"validation": int(t_val), "test": int(t_test)}
    stamps = small.URM_timestamp[split.user_index]
    times = {name: stamps.multiply(matrix != 0).tocsr().data for name, matrix in split.matrices().items()}
    assert times["URM_train"].max() < t_val <= times["URM_validation"].min()
    assert times["URM_validation"].max() < t_test <= times["URM_test"].min()
    # users dropped exactly when they have nothing before the cut
    first_time = np.minimum.reduceat(small.URM_timestamp.data, small.URM_timestamp.indptr[:-1])
    assert np.array_equal(split.user_index, np.flatnonzero(first_time < t_val))
    assert np.all(np.diff(split.URM_train.indptr) >= 1)
    _check_partition(small, split)


def test_global_timestamp_hand_example():
    # users 0..29 have items 0, 1, 2, 4 at times u, u + 30, u + 60, u + 100; user 30 has items 0, 1 at 120, 121.
    n = 30
    rows = np.concatenate([np.repeat(np.arange(n), 4), [n, n]])
    cols = np.concatenate([np.tile([0, 1, 2, 4], n), [0, 1]])
    u = np.arange(n)
    times = np.concatenate([np.stack([u, u + 30, u + 60, u + 100], axis=1).ravel(), [120, 121]])
    URM = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n + 1, 5))
    dataset = Dataset("Hand", URM, [str(u) for u in range(n + 1)], [str(i) for i in range(5)],
                      sp.csr_matrix((times.astype(np.int64), (rows, cols)), shape=(n + 1, 5)))
    split = DataSplitter_global_timestamp().split(dataset)
    # 122 sorted times (0..89, 100..129, 120, 121): the lower 60th percentile is at index floor(0.6 * 121) = 72
    # -> time 72; the lower 80th at index floor(0.8 * 121) = 96 -> time 106
    assert split.info["cut_timestamps"] == {"validation": 72, "test": 106}
    assert split.user_index.tolist() == list(range(n))  # user 30 has nothing before 72
    assert split.URM_train.nnz == 72  # times 0..71
    assert split.URM_validation.nnz == 18 + 6  # times 72..89 and 100..105
    assert split.URM_test.nnz == 24  # times 106..129 of kept users
    # user 29: times 29, 59 (train), 89 (validation), 129 (test)
    assert split.URM_train[29].indices.tolist() == [0, 1] and split.URM_validation[29].indices.tolist() == [2]
    assert split.URM_test[29].indices.tolist() == [4]


def test_global_timestamp_needs_timestamps():
    with pytest.raises(SplitterNotApplicable, match="no timestamps"):
        DataSplitter_global_timestamp().split(_dataset(with_timestamps=False))


def test_too_small_split_is_an_error():
    with pytest.raises(SplitError, match="more than 10"):
        DataSplitter_leave_k_out_last().split(_dataset(blocks=3))


@pytest.mark.parametrize("make", [
    lambda: DataSplitter_leave_k_out_last(k_out=0),
    lambda: DataSplitter_leave_k_out_random(seed=-1),
    lambda: DataSplitter_global_timestamp(k_out_percent=50),
])
def test_bad_parameters(make):
    with pytest.raises(ValueError):
        make()


def test_registry_names_and_unknown():
    assert list(SPLITTERS) == [
        "DataSplitter_leave_k_out_last", "DataSplitter_leave_k_out_random", "DataSplitter_global_timestamp"
    ]
    assert get_splitter("DataSplitter_global_timestamp") is DataSplitter_global_timestamp
    with pytest.raises(UnknownSplitter) as error:
        get_splitter("DataSplitter_leave_k_out")
    assert "\n" not in str(error.value) and "DataSplitter_leave_k_out_last" in str(error.value)


def test_fingerprint_tracks_content(small):
    assert dataset_fingerprint(small) == dataset_fingerprint(generate_synthetic("SyntheticSmall"))
    changed = generate_synthetic("SyntheticSmall")
    changed.URM_all.data[0] += 1
    assert dataset_fingerprint(changed) != dataset_fingerprint(small)


@pytest.mark.parametrize("name", list(SPLITTERS))
def test_same_input_gives_identical_files(small, tmp_path, name):
    for attempt in ("a", "b"):
        write_split(tmp_path / attempt, get_splitter(name)().split(generate_synthetic("SyntheticSmall")))
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "split.json" in files and "URM_validation.npz" in files
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
