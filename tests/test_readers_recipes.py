"""Food.com recipes: CSV with multi-line quoted reviews, dates as UTC seconds."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror


def test_recipes_multiline_reviews_dates_and_unrated(data_mirror, tmp_path):
    csv = (
        b"\xef\xbb\xbfuser_id,recipe_id,date,rating,review\n"  # with a UTF-8 byte-order mark
        b'38094,40893,2003-02-17,4,"Great with a salad, really.\nSecond line"\n'
        b'1293707,40893,2011-12-21,5,"So simple, so delicious!"\n'
        b'8937,44394,2002-12-01,0,"no stars"\n'
        b"38094,40893,2004-01-01,2,late\n"
    )
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Recipes", {"RAW_interactions.csv": csv})
    assert_dataset(
        dataset, ["38094", "1293707", "8937"], ["40893", "44394"],
        {("38094", "40893"): 2, ("1293707", "40893"): 5},
        {("38094", "40893"): 1072915200, ("1293707", "40893"): 1324425600},
    )
