"""Google Local: gzip lines of Python dict literals (or JSON), parsed without eval."""

import pytest

from Data_manager.readers.base import ParseError
from tests.reader_helpers import assert_dataset, gz_bytes, prepare_from_mirror

LINES = [
    "{'rating': 5.0, 'reviewerName': 'Sam', 'reviewText': \"it's great\", 'categories': ['Gym'], "
    "'gPlusPlaceId': '108', 'unixReviewTime': 1372686659, 'reviewTime': 'Jul 1, 2013', 'gPlusUserId': '100'}",
    '{"rating": 3.0, "reviewText": null, "gPlusPlaceId": "109", "unixReviewTime": 1400000000, "gPlusUserId": "100"}',
    "{'rating': 4.0, 'reviewText': None, 'gPlusPlaceId': '109', 'unixReviewTime': None, 'gPlusUserId': '101'}",
    "{'rating': 1.0, 'reviewText': 'changed my mind', 'gPlusPlaceId': '108', 'unixReviewTime': 1380000000, "
    "'gPlusUserId': '100'}",
    "{'rating': 2.0, 'gPlusPlaceId': '110', 'unixReviewTime': 1390000000, 'gPlusUserId': '102'}",
]


def test_google_local_literal_and_json_lines(data_mirror, tmp_path):
    data = gz_bytes(("\n".join(LINES) + "\n").encode())
    dataset = prepare_from_mirror(data_mirror, tmp_path, "GoogleLocalReviews", {"reviews.clean.json.gz": data})
    # the review without time is skipped; the later review of (100, 108) replaces the first
    assert_dataset(
        dataset, ["100", "102"], ["108", "109", "110"],
        {("100", "108"): 1, ("100", "109"): 3, ("102", "110"): 2},
        {("100", "108"): 1380000000, ("100", "109"): 1400000000, ("102", "110"): 1390000000},
    )


def test_google_local_code_is_rejected_not_run(data_mirror, tmp_path):
    data = gz_bytes(("\n".join([LINES[0], "__import__('os').system('touch pwned')"]) + "\n").encode())
    with pytest.raises(ParseError, match=r"reviews\.clean\.json\.gz:2: not a JSON or Python record"):
        prepare_from_mirror(data_mirror, tmp_path, "GoogleLocalReviews", {"reviews.clean.json.gz": data})
    assert not (tmp_path / "pwned").exists()
