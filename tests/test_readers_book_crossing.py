"""Book-Crossing: Latin-1, ``;``-separated, quoted with backslash escapes; 0 ratings dropped."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_book_crossing_quirks(data_mirror, tmp_path):
    ratings = (
        '"User-ID";"ISBN";"Book-Rating"\n'
        '"276725";"034545104X";"0"\n'
        '"276726";"0155061224";"5"\n'
        '"276729";"052165615X";"3"\n'
        '"276729";"0521795028";"6"\n'
        '"276747";"0060517794\\"";"9"\n'
        '"276747";"3499é23";"8"\n'
    ).encode("latin-1")
    archive = zip_bytes({"BX-Book-Ratings.csv": ratings, "BX-Users.csv": b'"User-ID";"Location";"Age"\n'})
    dataset = prepare_from_mirror(data_mirror, tmp_path, "BookCrossing", {"BX-CSV-Dump.zip": archive})
    assert_dataset(
        dataset,
        ["276725", "276726", "276729", "276747"],
        ["034545104X", "0155061224", "052165615X", "0521795028", '0060517794"', "3499é23"],
        {("276726", "0155061224"): 5, ("276729", "052165615X"): 3, ("276729", "0521795028"): 6,
         ("276747", '0060517794"'): 9, ("276747", "3499é23"): 8},
    )
