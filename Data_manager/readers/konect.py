"""KONECT network collection: CiaoDVD, Dating (Libimseti) and Wikilens ratings (each its own family).

Each source is ``download.tsv.<network>.tar.bz2`` holding ``<network>/out.<network>``:
lines starting with ``%`` are comments (KONECT puts one or two at the top: the
network kind and its counts), the others are whitespace-separated
``user item weight [timestamp]``. The reference skipped a fixed number of top lines
instead; skipping every comment line reads the same interactions without depending
on how many there are. Duplicate pairs: the reference kept the latest (CiaoDVD,
Wikilens) or the largest rating (Dating).
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

URL = "http://konect.cc/files/download.tsv.{}.tar.bz2"


def _reader(name: str, network: str, size_class: str, has_timestamps: bool) -> Reader:
    filename = f"download.tsv.{network}.tar.bz2"

    def parse(files):
        builder = InteractionBuilder(has_timestamps=has_timestamps)
        with open_text(files[filename], f"{network}/out.{network}") as (label, text):
            add_rows(builder, text, label, separator=None, comment="%",
                     columns=(0, 1, 2, 3) if has_timestamps else (0, 1, 2))
        return builder

    return Reader(
        name=name,
        family=name,
        size_class=size_class,
        sources=(Source(filename, URL.format(network)),),
        parse=parse,
        duplicates="keep_latest" if has_timestamps else "keep_max",
    )


READERS = (
    _reader("CiaoDVD", "librec-ciaodvd-movie_ratings", "small", has_timestamps=True),
    _reader("Dating", "libimseti", "large", has_timestamps=False),
    _reader("Wikilens", "wikilens-ratings", "small", has_timestamps=True),
)
