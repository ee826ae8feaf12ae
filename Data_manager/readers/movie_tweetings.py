"""MovieTweetings (Dooms et al.): the ``latest/ratings.dat`` of the GitHub repository.

Layout: plain text, ``user::movie::rating::timestamp`` (ratings 0-10, unix seconds;
a 0 rating is dropped like every zero value). Duplicate pairs keep the latest rating.
The file is not versioned, so no checksum is known in advance; the one of the copy
used is recorded in ``dataset.json``.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "MovieTweetings-ratings.dat"
URL = "https://raw.githubusercontent.com/sidooms/MovieTweetings/master/latest/ratings.dat"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=True)
    with open_text(files[FILENAME]) as (label, text):
        add_rows(builder, text, label, separator="::", columns=(0, 1, 2, 3))
    return builder


READERS = (
    Reader(
        name="MovieTweetings",
        family="MovieTweetings",
        size_class="medium",
        sources=(Source(FILENAME, URL),),
        parse=_parse,
        duplicates="keep_latest",
    ),
)
