"""Last.fm listening counts, HetRec 2011 (GroupLens): ``hetrec2011-lastfm-2k.zip``.

Layout: ``user_artists.dat`` at the zip root, tab-separated with the header
``userID artistID weight``; the value is the play count, as in the reference.
Duplicate pairs keep the largest count.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "hetrec2011-lastfm-2k.zip"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME], "user_artists.dat") as (label, text):
        add_rows(builder, text, label, separator="\t", columns=(0, 1, 2), header=True)
    return builder


READERS = (
    Reader(
        name="LastFM",
        family="LastFM",
        size_class="small",
        sources=(Source(FILENAME, "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"),),
        parse=_parse,
        duplicates="keep_max",
        value_kind="count",
    ),
)
