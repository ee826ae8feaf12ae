"""Epinions: bzip2 text, space-separated; only three-field lines are ratings."""

from tests.reader_helpers import assert_dataset, bz2_bytes, prepare_from_mirror


def test_epinions_reads_three_field_lines(data_mirror, tmp_path):
    data = bz2_bytes(b"1 100 4\n1 101 5\n2 100 3\n\n3 102\n")
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Epinions", {"ratings_data.txt.bz2": data})
    assert_dataset(dataset, ["1", "2"], ["100", "101"], {("1", "100"): 4, ("1", "101"): 5, ("2", "100"): 3})
