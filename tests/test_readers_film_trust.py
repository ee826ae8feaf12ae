"""FilmTrust: space-separated ratings, largest duplicate kept."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_film_trust_half_ratings_and_duplicates(data_mirror, tmp_path):
    archive = zip_bytes({"ratings.txt": b"1 1 2\n1 2 4\n2 1 3.5\n2 1 1.5\n", "trust.txt": b"2 966 1\n"})
    dataset = prepare_from_mirror(data_mirror, tmp_path, "FilmTrust", {"filmtrust.zip": archive})
    assert_dataset(dataset, ["1", "2"], ["1", "2"], {("1", "1"): 2, ("1", "2"): 4, ("2", "1"): 3.5})
