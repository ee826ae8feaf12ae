"""Google Local reviews (He et al. / McAuley lab, 2017): ``reviews.clean.json.gz``.

Layout: gzip text, one review per line written as a Python dict literal (single
quotes, so not JSON): ``{'rating': 5.0, ..., 'gPlusPlaceId': ..., 'unixReviewTime':
1372686659, ..., 'gPlusUserId': ...}``. Lines are decoded with ``json`` or, failing
that, ``ast.literal_eval`` (never ``eval`` like the reference: the file is untrusted).
Reviews whose ``unixReviewTime`` is ``None`` are skipped (the standard format stores
integer seconds for every interaction); a record lacking one of the four fields is an
error. Duplicate pairs keep the latest review.
The reference URL on deepyeti.ucsd.edu is the lab's old host; the lab's current
public-datasets host is tried next.
"""

import ast
import json

from Data_manager.download import Source
from Data_manager.readers.base import (
    InteractionBuilder,
    ParseError,
    Reader,
    open_text,
    text_lines,
    to_number,
    to_seconds,
)

FILENAME = "reviews.clean.json.gz"
FIELDS = ("gPlusUserId", "gPlusPlaceId", "rating", "unixReviewTime")


def _record(line: str, label: str, line_number: int) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        try:
            record = ast.literal_eval(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ParseError(f"{label}:{line_number}: not a JSON or Python record: {line[:80]!r}") from None
    if not isinstance(record, dict) or any(field not in record for field in FIELDS):
        raise ParseError(f"{label}:{line_number}: a review record needs the fields {', '.join(FIELDS)}")
    return record


def _parse(files):
    builder = InteractionBuilder(has_timestamps=True)
    with open_text(files[FILENAME]) as (label, text):
        for line_number, line in text_lines(text, label):
            if not line.strip():
                continue
            record = _record(line, label, line_number)
            if record["unixReviewTime"] is None:
                continue
            builder.add(
                str(record["gPlusUserId"]),
                str(record["gPlusPlaceId"]),
                to_number(str(record["rating"]), label, line_number),
                to_seconds(str(record["unixReviewTime"]), label, line_number),
            )
    return builder


READERS = (
    Reader(
        name="GoogleLocalReviews",
        family="GoogleLocalReviews",
        size_class="large",
        sources=(
            Source(
                FILENAME,
                "http://deepyeti.ucsd.edu/jmcauley/datasets/googlelocal/reviews.clean.json.gz",
                mirrors=("https://mcauleylab.ucsd.edu/public_datasets/data/googlelocal/reviews.clean.json.gz",),
            ),
        ),
        parse=_parse,
        duplicates="keep_latest",
    ),
)
