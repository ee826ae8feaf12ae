"""Last.fm HetRec 2011: tab-separated play counts with a header."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_lastfm_play_counts(data_mirror, tmp_path):
    archive = zip_bytes({
        "user_artists.dat": b"userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t228\n",
        "artists.dat": b"id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\t\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "LastFM", {"hetrec2011-lastfm-2k.zip": archive})
    assert_dataset(dataset, ["2", "3"], ["51", "52"], {("2", "51"): 13883, ("2", "52"): 11690, ("3", "51"): 228})
    assert dataset.value_kind == "count"  # dataset.json records it: NDCG uses the binary gain
