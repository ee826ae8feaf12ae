"""Gowalla: gzip tab-separated check-ins, user x location, implicit."""

from tests.reader_helpers import assert_dataset, gz_bytes, prepare_from_mirror


def test_gowalla_check_ins_become_ones(data_mirror, tmp_path):
    checkins = (
        b"0\t2010-10-19T23:55:27Z\t30.2359091167\t-97.7951395833\t22847\n"
        b"0\t2010-10-18T22:17:43Z\t30.2691029532\t-97.7493953705\t420315\n"
        b"0\t2010-10-17T23:42:03Z\t30.2557309927\t-97.7633857727\t22847\n"
        b"1\t2010-10-17T19:26:05Z\t0.0\t-97.7\t420315\n"
    )
    files = {"loc-gowalla_totalCheckins.txt.gz": gz_bytes(checkins)}
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Gowalla", files)
    assert_dataset(
        dataset, ["0", "1"], ["22847", "420315"],
        {("0", "22847"): 1, ("0", "420315"): 1, ("1", "420315"): 1},
        implicit=True,
    )
