"""Shared parsing rules: error positions, header checks, dates, duplicate policies."""

import io

import numpy as np
import pytest

from Data_manager.readers.base import InteractionBuilder, ParseError, add_csv_rows, add_rows, date_to_seconds


def _text(data: bytes):
    """Lines decoded one at a time, like ``open_text`` gives them."""
    return (line.decode() for line in io.BytesIO(data))


def test_invalid_text_names_the_line():
    with pytest.raises(ParseError, match=r"f\.csv:2: not valid utf-8 text"):
        add_rows(InteractionBuilder(False), _text(b"u,i,1\nu\xff,i,2\n"), "f.csv", separator=",", columns=(0, 1, 2))


def test_missing_field_names_the_line():
    with pytest.raises(ParseError, match=r"f\.dat:3: expected 4 fields, found 3: '2::5::3'"):
        add_rows(InteractionBuilder(True), _text(b"1::5::3::10\n\n2::5::3\n"), "f.dat", separator="::",
                 columns=(0, 1, 2, 3))


def test_csv_header_must_name_the_columns():
    with pytest.raises(ParseError, match=r"f\.csv:1: header \['user_id', 'item_id', 'stars'\] lacks column\(s\) \['rating'\]"):
        add_csv_rows(InteractionBuilder(False), _text(b"user_id,item_id,stars\n1,2,3\n"), "f.csv",
                     columns=("user_id", "item_id", "rating"))


def test_csv_short_record_names_its_line():
    with pytest.raises(ParseError, match=r"f\.csv:4: expected 3 fields, found 2"):
        add_csv_rows(InteractionBuilder(False), _text(b'user_id,item_id,rating\n1,2,"3\n"\n1,5\n'), "f.csv",
                     columns=("user_id", "item_id", "rating"))


@pytest.mark.parametrize("text, seconds", [
    ("1970-01-02", 86_400), ("2000-01-01 00:00:10", 946_684_810), ("2000-01-01T01:00:00+01:00", 946_684_800),
])
def test_iso_dates_are_utc_seconds(text, seconds):
    assert date_to_seconds(text, "f", 1) == seconds


def test_bad_date_names_the_line():
    with pytest.raises(ParseError, match=r"f\.csv:7: '13/01/2000' is not an ISO date"):
        date_to_seconds("13/01/2000", "f.csv", 7)


def test_no_interactions_is_an_error():
    builder = InteractionBuilder(False)
    add_rows(builder, _text(b"% only a comment\n"), "out.x", separator=None, columns=(0, 1, 2), comment="%")
    with pytest.raises(ParseError, match="X: no interactions found"):
        builder.build("X", "keep_max", False, [], label="X")


def test_keep_latest_breaks_timestamp_ties_by_the_later_line():
    builder = InteractionBuilder(True)
    for value, timestamp in ((1, 5), (2, 9), (3, 9), (4, 7)):
        builder.add("u", "i", value, timestamp)
    dataset = builder.build("X", "keep_latest", False, [], label="X")
    assert dataset.URM_all.toarray().tolist() == [[3]] and dataset.URM_timestamp.toarray().tolist() == [[9]]


def test_catalogue_fixes_indices_and_ignores_unknown_ids():
    builder = InteractionBuilder(False, users=["a", "b"], items=["x", "y", "z"], add_users=False, add_items=True)
    builder.add("b", "w", 2)
    builder.add("c", "x", 5)  # unknown user: ignored
    builder.add("a", "z", 1)
    dataset = builder.build("X", "error", False, [], label="X")
    assert dataset.user_ids == ["a", "b"] and dataset.item_ids == ["x", "y", "z", "w"]
    np.testing.assert_array_equal(dataset.URM_all.toarray(), [[0, 0, 1, 0], [0, 0, 0, 2]])
