"""Jester 2: double-tab separated ratings from -10 to 10; a 0.0 rating is dropped."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_jester_double_tabs_and_negative_ratings(data_mirror, tmp_path):
    ratings = b"1\t\t5\t\t0.219\n1\t\t7\t\t-9.281\n2\t\t5\t\t0.000\n2\t\t8\t\t9.5\n"
    files = {"jester_dataset_2.zip": zip_bytes({"jester_ratings.dat": ratings})}
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Jester2", files)
    assert_dataset(
        dataset, ["1", "2"], ["5", "7", "8"],
        {("1", "5"): 0.219, ("1", "7"): -9.281, ("2", "8"): 9.5},
    )
