"""Gowalla check-ins (SNAP, Cho et al., KDD 2011): ``loc-gowalla_totalCheckins.txt.gz``.

Layout: gzip text, tab-separated ``user check-in_time latitude longitude location``,
no header. Implicit data: a user who checked in at a location has a 1 for it, however
many times (the reference also kept no timestamps). The reference stored the
latitude as the value before setting it to 1, which silently dropped check-ins at
latitude 0.0; every check-in counts here.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "loc-gowalla_totalCheckins.txt.gz"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME]) as (label, text):
        add_rows(builder, text, label, separator="\t", columns=(0, 4, None), value=1.0)
    return builder


READERS = (
    Reader(
        name="Gowalla",
        family="Gowalla",
        size_class="medium",
        sources=(Source(FILENAME, "https://snap.stanford.edu/data/loc-gowalla_totalCheckins.txt.gz"),),
        parse=_parse,
        duplicates="keep_max",
        is_implicit=True,
        value_kind="binary",
    ),
)
