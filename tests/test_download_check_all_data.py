"""download_check_all_data end to end against the local mirror: faults, resume, re-runs, listing, links."""

import re

import pytest

from Data_manager import create_all_data_splits, download_check_all_data
from Data_manager.cli_errors import run_cli
from Data_manager.datasets import DATASETS, canonical_dataset_name, default_dataset_names
from tests.conftest import run_module
from Data_manager.atomic_files import file_sha256
from Data_manager.dataset_format import read_dataset_metadata
from tests.reader_helpers import bz2_bytes, tar_bytes, zip_bytes

# The reference's final split list (scripts/neurips_experiments/v5_dataset_list.sh) and families.
REFERENCE_NAMES = """
AmazonAllBeauty AmazonAllElectronics AmazonAlternativeRock AmazonAmazonFashion AmazonAmazonInstantVideo
AmazonAppliances AmazonAppsforAndroid AmazonAppstoreforAndroid AmazonArtsCraftsSewing AmazonAutomotive AmazonBaby
AmazonBabyProducts AmazonBeauty AmazonBlues AmazonBooks AmazonBuyaKindle AmazonCDsVinyl AmazonCellPhonesAccessories
AmazonChristian AmazonClassical AmazonClothingShoesJewelry AmazonCollectiblesFineArt AmazonComputers AmazonCountry
AmazonDanceElectronic AmazonDavis AmazonDigitalMusic AmazonElectronics AmazonFolk AmazonGiftCards AmazonGospel
AmazonGroceryGourmetFood AmazonHardRockMetal AmazonHealthPersonalCare AmazonHomeImprovement AmazonHomeKitchen
AmazonIndustrialScientific AmazonInternational AmazonJazz AmazonKindleStore AmazonKitchenDining AmazonLatinMusic
AmazonLuxuryBeauty AmazonMP3PlayersAccessories AmazonMagazineSubscriptions AmazonMiscellaneous AmazonMoviesTV
AmazonMusicalInstruments AmazonNewAge AmazonOfficeProducts AmazonOfficeSchoolSupplies AmazonPatioLawnGarden
AmazonPetSupplies AmazonPop AmazonPurchaseCircles AmazonRB AmazonRapHipHop AmazonRock AmazonSoftware
AmazonSportsOutdoors AmazonToolsHomeImprovement AmazonToysGames AmazonVideoGames AmazonWine Anime BookCrossing CiaoDVD
Dating Epinions FilmTrust Frappe GoogleLocalReviews Gowalla Jester2 LastFM MarketBiasAmazon MarketBiasModCloth
MovieTweetings Movielens100K Movielens10M Movielens1M Movielens20M MovielensHetrec2011 NetflixPrize Recipes Wikilens
YahooMovies YahooMusic
""".split()

LASTFM = b"userID\tartistID\tweight\n" + b"".join(
    f"{user}\t{artist}\t{10 * user + artist}\n".encode() for user in range(1, 13) for artist in range(50, 55)
)
GOOD = {
    "ml-10m.zip": zip_bytes({
        "ml-10M100K/movies.dat": b"1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n",
        "ml-10M100K/ratings.dat": b"1::1::5::838985046\n1::2::3::838983525\n2::1::4::838983421\n",
    }),
    "hetrec2011-lastfm-2k.zip": zip_bytes({"user_artists.dat": LASTFM}),
    "filmtrust.zip": zip_bytes({"ratings.txt": b"1 1 2\n1 2 4\n2 1 3.5\n"}),
    "jester_dataset_2.zip": zip_bytes({"jester_ratings.dat": b"".join(
        f"{user}\t\t{joke}\t\t{user - joke / 3:.3f}\n".encode() for user in range(1, 40) for joke in range(5, 15)
    )}),
    "download.tsv.wikilens-ratings.tar.bz2": tar_bytes(
        {"wikilens-ratings/out.wikilens-ratings": b"% bip weighted\n" + b"1 1 4 1130000000\n" * 2000}, "bz2"),
    "ratings_data.txt.bz2": bz2_bytes(b"1 100 4\n1 101 5\n2 100 3\n"),
    "Anime.zip": zip_bytes({"rating.csv": b"user_id,anime_id,rating\n1,20,-1\n"}),
}
FAULTY = {
    "Movielens10M": None, "LastFM": None,  # served as they are
    "FilmTrust": "404", "Jester2": "drop_once", "Wikilens": "truncate", "Epinions": "empty",
    "Movielens100K": "checksum", "Anime": "malformed",
}
FIRST_RUN_REASONS = {
    "FilmTrust": "DownloadError: .*filmtrust.zip: HTTP 404 Not Found",
    "Jester2": "DownloadError: .*jester_dataset_2.zip: connection dropped after",
    "Wikilens": "DownloadError: .*download.tsv.wikilens-ratings.tar.bz2: corrupt or truncated tar:bz2 file",
    "Epinions": "DownloadError: .*ratings_data.txt.bz2: empty file",
    "Movielens100K": "DownloadError: .*ml-100k.zip: checksum mismatch",
    "Anime": r"ParseError: Anime.zip:rating.csv:3: 'abc' is not a number; moved .*_downloads/rejected/Anime.zip aside, "
             "so the next run fetches it again",
}


def _serve(mirror):
    mirror.files.update(GOOD)
    mirror.faults["filmtrust.zip"] = "404"
    mirror.faults["jester_dataset_2.zip"] = "drop_once"
    wikilens = GOOD["download.tsv.wikilens-ratings.tar.bz2"]
    mirror.files["download.tsv.wikilens-ratings.tar.bz2"] = wikilens[: len(wikilens) * 2 // 3]
    mirror.files["ratings_data.txt.bz2"] = b""
    mirror.files["ml-100k.zip"] = zip_bytes({"ml-100k/u.data": b"1\t1\t5\t881250949\n"})
    mirror.files["Anime.zip"] = zip_bytes({"rating.csv": b"user_id,anime_id,rating\n1,20,-1\n2,20,abc\n"})


def _run(capsys, *args) -> tuple[int, dict]:
    code = run_cli(download_check_all_data.main, [*map(str, args), "--retries", "0", "--backoff", "0"], prog="test")
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        cells = re.split(r"\s{2,}", line, maxsplit=2)
        if len(cells) == 3 and cells[1] in ("SUCCESS", "FAILURE"):
            rows[cells[0]] = (cells[1], cells[2])
    return code, rows


def test_every_reference_dataset_is_registered_with_its_family():
    assert len(REFERENCE_NAMES) == 88
    downloaded = [name for name, entry in DATASETS.items() if entry.sources]
    assert sorted(downloaded) == sorted(REFERENCE_NAMES)
    assert set(REFERENCE_NAMES) <= set(default_dataset_names())
    for name in REFERENCE_NAMES:
        assert canonical_dataset_name(f"{name}Reader") == name
        expected = ("Amazon" if name.startswith("Amazon") else "Movielens" if name.startswith("Movielens")
                    else "Yahoo" if name.startswith("Yahoo") else name)
        assert DATASETS[name].family == expected
    manual = {name for name in REFERENCE_NAMES if DATASETS[name].manual_download}
    konect = {"CiaoDVD", "Dating", "Wikilens"}  # KONECT downloads fail often: every source says how to get it by hand
    assert manual == {"Anime", "BookCrossing", "Epinions", "NetflixPrize", "Recipes", "YahooMovies", "YahooMusic"} | konect
    filenames = [source.filename for name in REFERENCE_NAMES for source in DATASETS[name].sources]
    assert len(filenames) == len(set(filenames)), "a mirror holds every source file under its own name"


def test_faults_fail_alone_then_resume_and_rerun_downloads_nothing(data_mirror, tmp_path, capsys):
    _serve(data_mirror)
    data_dir = tmp_path / "data"
    code, rows = _run(capsys, "--data-dir", data_dir, "--datasets", *FAULTY)
    assert code == 1
    assert set(rows) == set(FAULTY)
    for name in ("Movielens10M", "LastFM"):
        assert rows[name][0] == "SUCCESS" and rows[name][1].startswith("prepared: ")
    assert rows["LastFM"][1] == "prepared: 12 users x 5 items, 60 interactions"
    for name, reason in FIRST_RUN_REASONS.items():
        assert rows[name][0] == "FAILURE" and re.match(reason, rows[name][1]), rows[name]
    # no half-written dataset: only the two successes have a folder, no temporary folder is left
    assert sorted(path.name for path in data_dir.iterdir()) == ["LastFM", "Movielens10M", "_downloads"]
    downloads = sorted(str(path.relative_to(data_dir / "_downloads")) for path in (data_dir / "_downloads").rglob("*"))
    assert downloads == [  # the archive that failed to parse is moved aside, so that it is fetched again
        ".partial", ".partial/jester_dataset_2.zip", "hetrec2011-lastfm-2k.zip", "ml-10m.zip", "rejected",
        "rejected/Anime.zip",
    ]

    data_mirror.requests.clear()
    code, rows = _run(capsys, "--data-dir", data_dir, "--datasets", *FAULTY)
    assert code == 1
    assert rows["Jester2"] == ("SUCCESS", "prepared: 39 users x 10 items, 387 interactions")
    jester = [request for request in data_mirror.requests if request[1] == "jester_dataset_2.zip"]
    assert len(jester) == 1 and jester[0][2] is not None and jester[0][2].startswith("bytes=")  # resumed
    assert rows["Movielens10M"] == ("SUCCESS", "kept: 2 users x 2 items, 3 interactions")
    assert "ml-10m.zip" not in data_mirror.downloads() and "hetrec2011-lastfm-2k.zip" not in data_mirror.downloads()

    data_mirror.files.update(GOOD)
    data_mirror.faults.clear()
    fixed = ["Movielens10M", "LastFM", "FilmTrust", "Jester2", "Wikilens", "Epinions", "Anime"]
    result = run_module("Data_manager.download_check_all_data", "--data-dir", data_dir, "--datasets", *fixed,
                        "--retries", "0", env={"RECZILLA_DATA_MIRROR": data_mirror.base_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 succeeded, 0 failed" in result.stdout

    data_mirror.requests.clear()
    code, rows = _run(capsys, "--data-dir", data_dir, "--datasets", *fixed)
    assert code == 0 and all(status == "SUCCESS" and detail.startswith("kept: ") for status, detail in rows.values())
    assert data_mirror.requests == []


def test_create_all_data_splits_downloads_a_missing_dataset(data_mirror, tmp_path, capsys):
    data_mirror.files.update(GOOD)
    code = create_all_data_splits.main([
        "--data-dir", str(tmp_path / "data"), "--splits-dir", str(tmp_path / "splits"), "--datasets", "LastFMReader",
        "--splitters", "DataSplitter_leave_k_out_random",
    ])
    assert code == 0, capsys.readouterr().out
    assert data_mirror.downloads() == ["hetrec2011-lastfm-2k.zip"]
    assert (tmp_path / "splits" / "LastFM" / "DataSplitter_leave_k_out_random" / "split.json").exists()


def test_list_prints_the_registry_with_sources(capsys):
    assert download_check_all_data.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in REFERENCE_NAMES:
        assert re.search(rf"^{name}\s", out, re.MULTILINE)
    yahoo = r"^YahooMovies\s+Yahoo\s+medium\s+yes\s+yes\s+-\s+download\.yahooMovies-ratings\.tgz\s+https://figshare"
    movielens = r"^Movielens100K\s+Movielens\s+medium\s+yes\s+no\s+known\s+ml-100k\.zip\s+https://files\.grouplens\.org"
    assert re.search(yahoo, out, re.M) and re.search(movielens, out, re.M)


def test_check_links_reports_dead_sources(data_mirror, capsys):
    data_mirror.files.update(GOOD)
    del data_mirror.files["filmtrust.zip"]
    assert download_check_all_data.main(["--check-links", "--datasets", "LastFM", "FilmTrust"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"LastFM\s+hetrec2011-lastfm-2k\.zip\s+OK\s", out)
    assert re.search(r"FilmTrust\s+filmtrust\.zip\s+DEAD \(HTTP 404 Not Found\)", out)
    assert "1 source file(s) without a live URL: filmtrust.zip" in out
    assert data_mirror.downloads() == []


@pytest.mark.parametrize("args, message", [
    (["--datasets", "LastFM"], "--data-dir is required"),
    (["--data-dir", "x", "--datasets", "Nope"], "unknown dataset 'Nope'"),
    (["--data-dir", "x", "--retries", "-1"], "--retries and --backoff must be >= 0"),
])
def test_usage_errors_are_one_line_with_exit_code_2(args, message, capsys):
    assert run_cli(download_check_all_data.main, args, prog="download_check_all_data", usage_errors=(KeyError,)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_hand_placed_file_is_compared_with_the_known_release(data_mirror, tmp_path, capsys):
    # a rebuilt ml-100k.zip: a mirror serving it is refused, the same file placed by hand is used but flagged
    rebuilt = zip_bytes({"ml-100k/u.data": b"1\t1\t5\t881250949\n2\t1\t3\t881250950\n"})
    data_mirror.files["ml-100k.zip"] = rebuilt
    code, rows = _run(capsys, "--data-dir", tmp_path / "mirror", "--datasets", "Movielens100K")
    assert code == 1 and rows["Movielens100K"][1].startswith("DownloadError: ") and "checksum mismatch" in rows[
        "Movielens100K"][1]

    downloads = tmp_path / "data" / "_downloads"
    downloads.mkdir(parents=True)
    (downloads / "ml-100k.zip").write_bytes(rebuilt)
    code, rows = _run(capsys, "--data-dir", tmp_path / "data", "--datasets", "Movielens100K")
    status, detail = rows["Movielens100K"]
    assert code == 0 and status == "SUCCESS", detail
    sha256 = file_sha256(downloads / "ml-100k.zip")
    assert detail == (
        "prepared: 2 users x 1 items, 2 interactions; ml-100k.zip: checksum differs from the known release "
        f"(sha256 {sha256}, expected 50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229, "
        f"{len(rebuilt)} bytes, expected 4924029); used because it parses; verified: false"
    )
    metadata = read_dataset_metadata(tmp_path / "data" / "Movielens100K")
    assert metadata["verified"] is False
    assert metadata["sources"][0]["verified"] is False and "checksum differs" in metadata["sources"][0]["note"]
    code, rows = _run(capsys, "--data-dir", tmp_path / "data", "--datasets", "Movielens100K")
    assert rows["Movielens100K"] == (
        "SUCCESS", "kept: 2 users x 1 items, 2 interactions; verified: false (ml-100k.zip differ from the known release)")
    assert data_mirror.downloads() == ["ml-100k.zip"]  # only the refused mirror download


def test_hand_placed_file_that_differs_and_fails_to_parse_says_both(tmp_path, capsys):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "ml-100k.zip").write_bytes(zip_bytes({"ml-100k/u.data": b"1\t1\tfive\t881250949\n"}))
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "movielens100k")
    assert code == 1
    assert re.fullmatch(r"ParseError: ml-100k\.zip:ml-100k/u\.data:1: 'five' is not a number; moved .*rejected/ml-100k\.zip "
                        r"aside, so the next run fetches it again; ml-100k\.zip: checksum differs from the known release "
                        r"\(sha256 [0-9a-f]{64}, expected 50d2a9.*, \d+ bytes, expected 4924029\)", rows["Movielens100K"][1])


def test_verified_is_true_or_null_when_nothing_differs(data_mirror, tmp_path, capsys):
    data_mirror.files.update(GOOD)
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "LastFM")
    assert code == 0 and rows["LastFM"][1] == "prepared: 12 users x 5 items, 60 interactions"
    assert read_dataset_metadata(tmp_path / "LastFM")["verified"] is None  # no known checksum to compare with


def test_unparsable_hand_placed_archive_is_moved_aside_and_fetched_again(data_mirror, tmp_path, capsys):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "filmtrust.zip").write_bytes(zip_bytes({"ratings.txt": b"1 1 two\n"}))
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "FilmTrust")
    assert code == 1 and rows["FilmTrust"][1].startswith("ParseError: filmtrust.zip:ratings.txt:1: 'two' is not a number")
    assert f"moved {downloads / 'rejected' / 'filmtrust.zip'} aside" in rows["FilmTrust"][1]
    assert not (downloads / "filmtrust.zip").exists() and data_mirror.downloads() == []

    data_mirror.files.update(GOOD)
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "FilmTrust")
    assert code == 0 and rows["FilmTrust"] == ("SUCCESS", "prepared: 2 users x 2 items, 3 interactions")
    assert data_mirror.downloads() == ["filmtrust.zip"]


HTML = b"\n<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>\n"


def test_html_page_under_an_archive_name_is_named_as_such(data_mirror, tmp_path, capsys):
    data_mirror.files["filmtrust.zip"] = HTML  # a login wall served by the host
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "FilmTrust")
    assert code == 1
    assert re.match(r"DownloadError: .*filmtrust\.zip: filmtrust\.zip: an HTML page \(a login wall, captive portal or "
                    r"error page\?\), not a zip file$", rows["FilmTrust"][1]), rows["FilmTrust"]

    # the same page saved by hand: named, moved aside, and a good copy downloaded instead
    downloads = tmp_path / "_downloads"
    downloads.mkdir(exist_ok=True)
    (downloads / "filmtrust.zip").write_bytes(HTML)
    data_mirror.files.update(GOOD)
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "FilmTrust")
    assert code == 0 and rows["FilmTrust"][1] == (
        "prepared: 2 users x 2 items, 3 interactions; filmtrust.zip: an HTML page (a login wall, captive portal or error "
        f"page?), not a zip file; moved {downloads / 'rejected' / 'filmtrust.zip'} aside, so the next run fetches it "
        "again; downloaded again"
    )
    assert (downloads / "rejected" / "filmtrust.zip").read_bytes() == HTML


def test_data_dir_that_is_a_file_is_one_usage_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    for data_dir in (tmp_path / "file", tmp_path / "file" / "below"):
        result = run_module("Data_manager.download_check_all_data", "--data-dir", data_dir, "--datasets", "LastFM",
                            "FilmTrust")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr == f"download_check_all_data: error: --data-dir {data_dir}: {tmp_path / 'file'} is a file, " \
                                "not a folder\n"


def test_dataset_names_in_any_case(data_mirror, tmp_path, capsys):
    data_mirror.files.update(GOOD)
    code, rows = _run(capsys, "--data-dir", tmp_path, "--datasets", "lastfm", "LASTFMREADER")
    assert code == 0 and list(rows) == ["LastFM"]
    assert run_cli(download_check_all_data.main, ["--data-dir", str(tmp_path), "--datasets", "LastFMs"],
                   prog="download_check_all_data", usage_errors=(KeyError,)) == 2
    assert "unknown dataset 'LastFMs'; did you mean LastFM?" in capsys.readouterr().err


def test_check_links_lists_a_source_without_url_as_manual(monkeypatch, capsys):
    monkeypatch.delenv("RECZILLA_DATA_MIRROR", raising=False)
    monkeypatch.setattr(download_check_all_data, "DATASETS", {"CiaoDVD": DATASETS["CiaoDVD"]})
    ciao = DATASETS["CiaoDVD"]
    by_hand = [source for source in ciao.sources if not source.urls()]
    assert [source.filename for source in by_hand] == ["movie-ratings.txt"]
    monkeypatch.setattr(download_check_all_data, "check_link", lambda url, timeout: None)  # no network in tests
    assert download_check_all_data.main(["--check-links", "--datasets", "CiaoDVD"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"CiaoDVD\s+movie-ratings\.txt\s+MANUAL \(no URL: place it by hand\)\s+-", out)
    assert "0 source file(s) without a live URL" in out
