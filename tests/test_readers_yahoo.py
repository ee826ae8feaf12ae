"""Yahoo family: gzip files inside a tgz, manual-download instructions, a file placed by hand."""

import pytest

from Data_manager.download import DownloadError
from tests.reader_helpers import assert_dataset, gz_bytes, prepare_from_mirror, reader, tar_bytes

MOVIES = "ydata-ymovies-user-movie-ratings-train-v1_0.txt.gz"


def test_yahoo_movies_uses_the_five_level_rating_column(data_mirror, tmp_path):
    ratings = b"1\t1800000\t8\t3\n1\t1800001\t13\t5\n2\t1800000\t1\t1\n2\t1800000\t5\t2\n"
    archive = tar_bytes({MOVIES: gz_bytes(ratings), "README": b"Yahoo! Movies\n"}, "gz")
    dataset = prepare_from_mirror(data_mirror, tmp_path, "YahooMovies", {"download.yahooMovies-ratings.tgz": archive})
    assert_dataset(
        dataset, ["1", "2"], ["1800000", "1800001"], {("1", "1800000"): 3, ("1", "1800001"): 5, ("2", "1800000"): 2}
    )


def test_yahoo_music_zero_rating_dropped_but_ids_kept(data_mirror, tmp_path):
    ratings = b"1\t1000125\t90\n1\t1000176\t0\n2\t1000125\t255\n"
    archive = tar_bytes({"ydata-ymusic-user-artist-ratings-v1_0.txt.gz": gz_bytes(ratings)}, "gz")
    dataset = prepare_from_mirror(data_mirror, tmp_path, "YahooMusic", {"download.yahooMusic-ratings.tgz": archive})
    assert_dataset(dataset, ["1", "2"], ["1000125", "1000176"], {("1", "1000125"): 90, ("2", "1000125"): 255})


def test_failed_download_says_where_to_get_and_put_the_file(data_mirror, tmp_path):
    expected = r"HTTP 404.*webscope\.sandbox\.yahoo\.com.*_downloads/download\.yahooMovies-ratings\.tgz"
    with pytest.raises(DownloadError, match=expected):
        reader("YahooMovies").prepare(tmp_path, retries=0, progress=False)


def test_file_placed_by_hand_is_used_without_downloading(data_mirror, tmp_path):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    archive = tar_bytes({f"webscope/{MOVIES}": gz_bytes(b"4\t1800002\t9\t4\n")}, "gz")  # an extra top folder
    (downloads / "download.yahooMovies-ratings.tgz").write_bytes(archive)
    folder = reader("YahooMovies").prepare(tmp_path, retries=0, progress=False)
    assert data_mirror.requests == []
    assert (folder / "dataset.json").exists()
