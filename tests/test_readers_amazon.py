"""Amazon family: every category parses its ``ratings_<Category>.csv`` exactly."""

import pytest

from Data_manager.readers.amazon import CATEGORIES
from Data_manager.readers.base import ParseError
from tests.reader_helpers import READERS_BY_NAME, assert_dataset, prepare_from_mirror

RATINGS = (
    b"A1Z6ZRHR0PLL6,0205616461,5.0,1369699200\n"
    b"A2B0LSHAT9WRIE,0205616461,3.0,1360108800\n"
    b"A1Z6ZRHR0PLL6,B00004TMFE,1.0,1400000000\n"
)


@pytest.mark.parametrize("key", sorted(CATEGORIES))
def test_every_category_reads_its_ratings_file(key, data_mirror, tmp_path):
    name, filename = f"Amazon{key}", f"ratings_{CATEGORIES[key]}.csv"
    (source,) = READERS_BY_NAME[name].sources
    assert source.url == f"http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/{filename}"
    dataset = prepare_from_mirror(data_mirror, tmp_path, name, {filename: RATINGS})
    assert_dataset(
        dataset,
        ["A1Z6ZRHR0PLL6", "A2B0LSHAT9WRIE"],
        ["0205616461", "B00004TMFE"],
        {("A1Z6ZRHR0PLL6", "0205616461"): 5, ("A2B0LSHAT9WRIE", "0205616461"): 3, ("A1Z6ZRHR0PLL6", "B00004TMFE"): 1},
        {
            ("A1Z6ZRHR0PLL6", "0205616461"): 1369699200,
            ("A2B0LSHAT9WRIE", "0205616461"): 1360108800,
            ("A1Z6ZRHR0PLL6", "B00004TMFE"): 1400000000,
        },
    )
    assert dataset.sources[0]["file"] == filename and len(dataset.sources[0]["sha256"]) == 64


def test_repeated_pair_is_an_error_naming_it(data_mirror, tmp_path):
    with pytest.raises(ParseError, match="AmazonWine: duplicate interaction for user 'U1' and item 'I1'"):
        prepare_from_mirror(data_mirror, tmp_path, "AmazonWine",
                            {"ratings_Wine.csv": b"U1,I1,4.0,10\nU2,I1,4.0,10\nU1,I1,2.0,20\n"})
    assert not (tmp_path / "AmazonWine").exists()


@pytest.mark.parametrize("line, message", [
    (b"U2,I1,five,10", "'five' is not a number"),
    (b"U2,I1,4.0", "expected 4 fields, found 3"),
    (b"U\xe92,I1,4.0,10", "not valid utf-8 text"),
])
def test_malformed_line_names_file_and_line(data_mirror, tmp_path, line, message):
    with pytest.raises(ParseError, match=rf"ratings_Wine\.csv:3: {message}"):
        prepare_from_mirror(data_mirror, tmp_path, "AmazonWine", {"ratings_Wine.csv": b"U1,I1,4.0,10\n\n" + line + b"\n"})
    assert not (tmp_path / "AmazonWine").exists()
