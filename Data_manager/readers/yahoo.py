"""Yahoo! Webscope ratings: Yahoo! Movies (R4) and Yahoo! Music artists (R1).

Yahoo licenses these data sets through Webscope (https://webscope.sandbox.yahoo.com,
sign-in and licence agreement). The reference downloaded its own copies from
figshare; those URLs are kept, and when they fail the error says how to obtain the
files by hand. Layouts (tab-separated, no header, gzip-compressed inside the tgz):

- Movies: ``ydata-ymovies-user-movie-ratings-train-v1_0.txt.gz`` with
  ``user movie rating_13_levels rating_1_to_5``; the reference used the 1-5 rating.
- Music: ``ydata-ymusic-user-artist-ratings-v1_0.txt.gz`` with ``user artist rating``
  (0-100, and 255 for "never play again", kept as is like in the reference).

Duplicate pairs keep the largest rating (the reference's rule without timestamps).
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

MANUAL = (
    "Get it by hand: sign in at https://webscope.sandbox.yahoo.com, request the {dataset} data set "
    "({catalog}), and save a .tgz holding {member} as DATA_DIR/_downloads/{filename}"
)


def _reader(
    name: str, filename: str, url: str, member: str, columns: tuple, size_class: str, dataset: str, catalog: str
) -> Reader:
    def parse(files):
        builder = InteractionBuilder(has_timestamps=False)
        with open_text(files[filename], member, inner_gzip=True) as (label, text):
            add_rows(builder, text, label, separator="\t", columns=columns)
        return builder

    manual = MANUAL.format(dataset=dataset, catalog=catalog, member=member, filename=filename)
    return Reader(
        name=name,
        family="Yahoo",
        size_class=size_class,
        sources=(Source(filename, url, manual=manual),),
        parse=parse,
        duplicates="keep_max",
    )


READERS = (
    _reader(
        "YahooMovies",
        "download.yahooMovies-ratings.tgz",
        "https://figshare.com/ndownloader/files/34939932?private_link=5ec186df491d4701d1f7",
        "ydata-ymovies-user-movie-ratings-train-v1_0.txt.gz",
        (0, 1, 3),
        "medium",
        "Yahoo! Movies User Ratings and Descriptive Content Information, v.1.0",
        "catalog R4",
    ),
    _reader(
        "YahooMusic",
        "download.yahooMusic-ratings.tgz",
        "https://figshare.com/ndownloader/files/34938798?private_link=526257f8d2beb94d3a2e",
        "ydata-ymusic-user-artist-ratings-v1_0.txt.gz",
        (0, 1, 2),
        "large",
        "Yahoo! Music User Ratings of Musical Artists, version 1.0",
        "catalog R1",
    ),
)
