"""MovieTweetings: ``::``-separated, zero-padded IMDb ids kept as text, latest duplicate kept."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror


def test_movie_tweetings_latest_rating_and_zero_dropped(data_mirror, tmp_path):
    ratings = (
        b"1::0114508::8::1381006850\n2::0208092::5::1586466072\n2::0358273::9::1579057827\n"
        b"3::0114508::0::1500000000\n2::0208092::7::1600000000\n"
    )
    dataset = prepare_from_mirror(data_mirror, tmp_path, "MovieTweetings", {"MovieTweetings-ratings.dat": ratings})
    assert_dataset(
        dataset, ["1", "2", "3"], ["0114508", "0208092", "0358273"],
        {("1", "0114508"): 8, ("2", "0208092"): 7, ("2", "0358273"): 9},
        {("1", "0114508"): 1381006850, ("2", "0208092"): 1600000000, ("2", "0358273"): 1579057827},
    )
