"""KONECT family (CiaoDVD, Dating, Wikilens): ``%`` comment lines, whitespace fields, duplicates."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, tar_bytes


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
