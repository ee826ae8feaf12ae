"""Anime: ``rating.csv`` with a header; -1 ("watched, not rated") is kept as a value."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_anime_keeps_minus_one_and_largest_duplicate(data_mirror, tmp_path):
    ratings = b"user_id,anime_id,rating\n1,20,-1\n1,24,-1\n2,20,8\n2,20,6\n"
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Anime", {"Anime.zip": zip_bytes({"rating.csv": ratings})})
    assert_dataset(dataset, ["1", "2"], ["20", "24"], {("1", "20"): -1, ("1", "24"): -1, ("2", "20"): 8})
