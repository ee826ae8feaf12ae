"""KONECT family (CiaoDVD, Dating, Wikilens): ``%`` comment lines, whitespace fields, duplicates."""

import pytest

from Data_manager.dataset_format import load_dataset
from Data_manager.datasets import DATASETS
from Data_manager.download import DownloadError
from Data_manager.readers.base import ParseError
from tests.reader_helpers import assert_dataset, prepare_from_mirror, reader, tar_bytes, zip_bytes


def _konect_archive(network: str, out: bytes) -> dict[str, bytes]:
    members = {f"{network}/README.{network}": b"About this network\n", f"{network}/out.{network}": out}
    return {f"download.tsv.{network}.tar.bz2": tar_bytes(members, "bz2")}


def test_ciaodvd_skips_both_comment_lines_and_keeps_latest_duplicate(data_mirror, tmp_path):
    out = b"% bip weighted\n% 5 3 2\n1 1 4 1184112000\n1 2 5 1184112001\n2 1 3 1184112002\n1 1 2 1184112005\n"
    files = _konect_archive("librec-ciaodvd-movie_ratings", out)
    dataset = prepare_from_mirror(data_mirror, tmp_path, "CiaoDVD", files)
    assert_dataset(
        dataset, ["1", "2"], ["1", "2"],
        {("1", "1"): 2, ("1", "2"): 5, ("2", "1"): 3},
        {("1", "1"): 1184112005, ("1", "2"): 1184112001, ("2", "1"): 1184112002},
    )


def test_dating_without_timestamps_keeps_largest_duplicate(data_mirror, tmp_path):
    out = b"% bip weighted\n1 133 8\n1 720 6\n2 133 10\n2 133 7\n"
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Dating", _konect_archive("libimseti", out))
    assert_dataset(dataset, ["1", "2"], ["133", "720"], {("1", "133"): 8, ("1", "720"): 6, ("2", "133"): 10})


def test_wikilens_tabs_and_half_ratings(data_mirror, tmp_path):
    out = b"% bip weighted\n% 4 3 3\n10\t7\t4.5\t1130000000\n10\t8\t0.5\t1130000100\n11\t7\t3\t1130000200\n"
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Wikilens", _konect_archive("wikilens-ratings", out))
    assert_dataset(
        dataset, ["10", "11"], ["7", "8"],
        {("10", "7"): 4.5, ("10", "8"): 0.5, ("11", "7"): 3},
        {("10", "7"): 1130000000, ("10", "8"): 1130000100, ("11", "7"): 1130000200},
    )


# LibRec's CiaoDVD movie-ratings.txt: userID,movieID,genreID,reviewID,movieRating,date (no header). The same
# interactions as the KONECT fixture above, with dates: the later (1, 1) rating is kept.
CIAO_RATINGS = b"1,1,2,101,4,2007-07-08\n1,2,2,102,5,2007-07-09\n2,1,2,103,3,2007-07-10\n1,1,2,104,2,2007-07-11\n"
CIAO_EXPECTED = ({("1", "1"): 2, ("1", "2"): 5, ("2", "1"): 3},
                 {("1", "1"): 1184112000, ("1", "2"): 1183939200, ("2", "1"): 1184025600})


def test_ciaodvd_from_librec_movie_ratings_placed_by_hand(data_mirror, tmp_path):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "movie-ratings.txt").write_bytes(CIAO_RATINGS)
    dataset = load_dataset(reader("CiaoDVD").prepare(tmp_path, retries=0, progress=False))
    assert data_mirror.requests == []  # KONECT's file is not there, LibRec's is: no download at all
    assert_dataset(dataset, ["1", "2"], ["1", "2"], *CIAO_EXPECTED)
    assert [source["file"] for source in dataset.sources] == ["movie-ratings.txt"]


def test_ciaodvd_falls_back_to_librec_zip_when_konect_fails(data_mirror, tmp_path):
    data_mirror.files["CiaoDVD.zip"] = zip_bytes({"movie-ratings.txt": CIAO_RATINGS, "trusts.txt": b"1,2,1\n"})
    dataset = load_dataset(reader("CiaoDVD").prepare(tmp_path, retries=0, progress=False))
    assert data_mirror.downloads() == ["download.tsv.librec-ciaodvd-movie_ratings.tar.bz2", "CiaoDVD.zip"]
    assert_dataset(dataset, ["1", "2"], ["1", "2"], *CIAO_EXPECTED)


def test_ciaodvd_librec_line_with_missing_fields_is_a_parse_error(data_mirror, tmp_path):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "movie-ratings.txt").write_bytes(b"1,1,2,101,4,2007-07-08\n1,2,5\n")
    with pytest.raises(ParseError, match=r"movie-ratings\.txt:2: expected 6 fields, found 3"):
        reader("CiaoDVD").prepare(tmp_path, retries=0, progress=False)
    assert (downloads / "rejected" / "movie-ratings.txt").exists()


def test_dating_from_the_original_libimseti_zip(data_mirror, tmp_path):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    ratings = b"1,133,8\n1,720,6\n2,133,10\n2,133,7\n"
    (downloads / "libimseti-complete.zip").write_bytes(zip_bytes({"libimseti/ratings.dat": ratings,
                                                                  "libimseti/gender.dat": b"1,F\n"}))
    dataset = load_dataset(reader("Dating").prepare(tmp_path, retries=0, progress=False))
    assert data_mirror.requests == []
    assert_dataset(dataset, ["1", "2"], ["133", "720"], {("1", "133"): 8, ("1", "720"): 6, ("2", "133"): 10})


@pytest.mark.parametrize("name, network, second", [
    ("CiaoDVD", "librec-ciaodvd-movie_ratings", "CiaoDVD.zip"),
    ("Dating", "libimseti", "libimseti-complete.zip"),
    ("Wikilens", "wikilens-ratings", None),
])
def test_failed_konect_download_says_how_to_get_every_source_by_hand(data_mirror, tmp_path, name, network, second):
    with pytest.raises(DownloadError) as error:
        reader(name).prepare(tmp_path, retries=0, progress=False)
    message = str(error.value)
    filename = f"download.tsv.{network}.tar.bz2"
    assert "\n" not in message
    assert f"open http://konect.cc/files/{filename} in a browser" in message
    assert f"save it as DATA_DIR/_downloads/{filename}" in message
    if second:
        assert f"DATA_DIR/_downloads/{second}" in message
    assert DATASETS[name].manual_download
