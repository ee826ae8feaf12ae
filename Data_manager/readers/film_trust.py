"""FilmTrust ratings (Guo et al., LibRec): ``filmtrust.zip``.

Layout: ``ratings.txt`` at the zip root, ``user item rating`` separated by spaces, no
header (ratings 0.5-4.0). Duplicate pairs keep the largest rating.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "filmtrust.zip"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME], "ratings.txt") as (label, text):
        add_rows(builder, text, label, separator=None, columns=(0, 1, 2))
    return builder


READERS = (
    Reader(
        name="FilmTrust",
        family="FilmTrust",
        size_class="small",
        sources=(Source(FILENAME, "https://guoguibing.github.io/librec/datasets/filmtrust.zip"),),
        parse=_parse,
        duplicates="keep_max",
    ),
)
