"""Netflix Prize ratings (the Kaggle copy ``netflix-prize-data.zip``).

Layout: ``combined_data_1.txt`` ... ``combined_data_4.txt`` at the zip root. A line
``MovieID:`` opens a movie's block; each following line is ``CustomerID,Rating,Date``.
The reference read customer, movie and rating and left the dates out; so does this
reader. The reference downloaded its own figshare copy; that URL is kept, and the
error says how to get the file by hand when it fails.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, ParseError, Reader, open_text, text_lines, to_number

FILENAME = "netflix-prize-data.zip"
URL = "https://figshare.com/ndownloader/files/34312409?private_link=02fd4b4bc40f20a1958e"
MANUAL = (
    "Get it by hand: download the 'Netflix Prize data' archive from "
    "https://www.kaggle.com/datasets/netflix-inc/netflix-prize-data (Kaggle account; accept the rules) "
    f"and save it as DATA_DIR/_downloads/{FILENAME}"
)


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    for part in (1, 2, 3, 4):
        with open_text(files[FILENAME], f"combined_data_{part}.txt") as (label, text):
            movie = None
            for line_number, line in text_lines(text, label):
                line = line.strip()
                if not line:
                    continue
                if line.endswith(":") and line[:-1].isdigit():
                    movie = line[:-1]
                    continue
                fields = line.split(",")
                if len(fields) != 3 or movie is None:
                    raise ParseError(
                        f"{label}:{line_number}: expected 'MovieID:' or 'CustomerID,Rating,Date', found {line[:80]!r}"
                    )
                builder.add(fields[0], movie, to_number(fields[1], label, line_number))
    return builder


READERS = (
    Reader(
        name="NetflixPrize",
        family="NetflixPrize",
        size_class="large",
        sources=(
            Source(FILENAME, URL, manual=MANUAL),
        ),
        parse=_parse,
    ),
)
