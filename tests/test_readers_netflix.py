"""Netflix Prize: ``MovieID:`` blocks over four combined_data files; dates are not kept."""

import pytest

from Data_manager.readers.base import ParseError
from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def _archive(first_file: bytes) -> dict[str, bytes]:
    return {"netflix-prize-data.zip": zip_bytes({
        "combined_data_1.txt": first_file,
        "combined_data_2.txt": b"3:\n30878,4,2005-12-26\n",
        "combined_data_3.txt": b"4:\n",
        "combined_data_4.txt": b"5:\n822109,1,2005-06-01\n",
        "movie_titles.csv": "1,2003,Dinosaur Planet\n2,2004,Isle of Man TT 2004 Review\n".encode("latin-1"),
    })}


def test_netflix_blocks_across_files(data_mirror, tmp_path):
    first = b"1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n2:\n1488844,4,2005-01-01\n"
    dataset = prepare_from_mirror(data_mirror, tmp_path, "NetflixPrize", _archive(first))
    assert_dataset(
        dataset, ["1488844", "822109", "30878"], ["1", "2", "3", "5"],
        {("1488844", "1"): 3, ("822109", "1"): 5, ("1488844", "2"): 4, ("30878", "3"): 4, ("822109", "5"): 1},
    )


def test_netflix_malformed_line_names_member_and_line(data_mirror, tmp_path):
    with pytest.raises(ParseError, match=r"netflix-prize-data\.zip:combined_data_1\.txt:3: expected"):
        prepare_from_mirror(data_mirror, tmp_path, "NetflixPrize", _archive(b"1:\n1488844,3,2005-09-06\n822109;5\n"))
