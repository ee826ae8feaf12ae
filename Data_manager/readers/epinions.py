"""Epinions ratings (Massa & Avesani, trustlet.org): ``ratings_data.txt.bz2``.

Layout: bzip2 text, ``user item rating`` separated by single spaces, no header. Like
the reference, only lines with exactly three fields are read; others are skipped.
The reference asserted that no pair repeats.

trustlet.org appears to be gone; the Internet Archive's copy is tried next, and the
error says how to place the file by hand.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, open_text, text_lines, to_number

FILENAME = "ratings_data.txt.bz2"
URL = "http://www.trustlet.org/datasets/downloaded_epinions/ratings_data.txt.bz2"
MANUAL = f"Get it by hand: find a copy of {URL} (e.g. on web.archive.org) and save it as DATA_DIR/_downloads/{FILENAME}"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME]) as (label, text):
        for line_number, line in text_lines(text, label):
            fields = line.split(" ")
            if len(fields) == 3:
                builder.add(fields[0], fields[1], to_number(fields[2], label, line_number))
    return builder


READERS = (
    Reader(
        name="Epinions",
        family="Epinions",
        size_class="medium",
        sources=(Source(FILENAME, URL, mirrors=(f"https://web.archive.org/web/2010id_/{URL}",), manual=MANUAL),),
        parse=_parse,
    ),
)
