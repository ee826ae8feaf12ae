"""Jester 2 joke ratings (Goldberg et al.): ``jester_dataset_2.zip``.

Layout: ``jester_ratings.dat`` at the zip root, ``user<TAB><TAB>joke<TAB><TAB>rating``
(ratings from -10.0 to 10.0; a 0.0 rating is dropped like every zero value).
Fields are split on any run of whitespace. Duplicate pairs keep the largest rating.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "jester_dataset_2.zip"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME], "jester_ratings.dat") as (label, text):
        add_rows(builder, text, label, separator=None, columns=(0, 1, 2))
    return builder


READERS = (
    Reader(
        name="Jester2",
        family="Jester2",
        size_class="medium",
        sources=(Source(FILENAME, "http://eigentaste.berkeley.edu/dataset/archive/jester_dataset_2.zip"),),
        parse=_parse,
        duplicates="keep_max",
    ),
)
