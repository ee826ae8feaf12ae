"""Book-Crossing ratings (Ziegler et al., WWW 2005): ``BX-CSV-Dump.zip``.

Layout: ``BX-Book-Ratings.csv`` at the zip root: Latin-1, ``;``-separated, every field
quoted, backslash escapes, header ``"User-ID";"ISBN";"Book-Rating"``. Ratings are
1-10; a 0 is an implicit interaction and is dropped like every zero value (the
reference did the same), its user and book keeping their index. Duplicate pairs
keep the largest rating.

The Freiburg URL of the reference appears to be gone; the Internet Archive's copy is
tried next, and the error says how to place the file by hand.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_csv_rows, open_text

FILENAME = "BX-CSV-Dump.zip"
URL = "http://www2.informatik.uni-freiburg.de/~cziegler/BX/BX-CSV-Dump.zip"
MANUAL = (
    f"Get it by hand: find a copy of {URL} (e.g. on web.archive.org) and save it as DATA_DIR/_downloads/{FILENAME}"
)


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME], "BX-Book-Ratings.csv", encoding="latin-1") as (label, text):
        add_csv_rows(builder, text, label, columns=("User-ID", "ISBN", "Book-Rating"), delimiter=";", escapechar="\\")
    return builder


READERS = (
    Reader(
        name="BookCrossing",
        family="BookCrossing",
        size_class="medium",
        sources=(Source(FILENAME, URL, mirrors=(f"https://web.archive.org/web/2020id_/{URL}",), manual=MANUAL),),
        parse=_parse,
        duplicates="keep_max",
    ),
)
