"""KONECT network collection: CiaoDVD, Dating (Libimseti) and Wikilens ratings (each its own family).

Each source is ``download.tsv.<network>.tar.bz2`` holding ``<network>/out.<network>``:
lines starting with ``%`` are comments (KONECT puts one or two at the top: the
network kind and its counts), the others are whitespace-separated
``user item weight [timestamp]``. The reference skipped a fixed number of top lines
instead; skipping every comment line reads the same interactions without depending
on how many there are. Duplicate pairs: the reference kept the latest (CiaoDVD,
Wikilens) or the largest rating (Dating).

KONECT downloads fail often, so each source says how to get it by hand, and two
datasets also read the files KONECT made them from (second sources, used when
KONECT's file is not in ``_downloads/`` and cannot be downloaded):

- CiaoDVD: LibRec's ``CiaoDVD.zip``, or its ``movie-ratings.txt`` alone: comma-separated
  ``userID,movieID,genreID,reviewID,movieRating,date`` without a header, the date as
  ``YYYY-MM-DD`` (read as midnight UTC);
- Dating: the original ``libimseti-complete.zip`` (Brozovsky & Petricek) holding
  ``ratings.dat``: comma-separated ``UserID,ProfileID,Rating`` without a header.

Wikilens has no other public source.
"""

from Data_manager.download import Source
from Data_manager.readers.base import (
    InteractionBuilder,
    Reader,
    add_rows,
    date_to_seconds,
    open_text,
    split_fields,
    text_lines,
    to_number,
)

URL = "http://konect.cc/files/download.tsv.{}.tar.bz2"
MANUAL = (
    "Get it by hand: KONECT downloads often fail; open {url} in a browser (or find a copy of it) "
    "and save it as DATA_DIR/_downloads/{filename}"
)
CIAO_ZIP = "CiaoDVD.zip"
CIAO_TXT = "movie-ratings.txt"
CIAO_URL = "https://guoguibing.github.io/librec/datasets/CiaoDVD.zip"
CIAO_MANUAL = (
    f"Or get LibRec's CiaoDVD by hand: download {CIAO_URL} (https://guoguibing.github.io/librec/datasets.html) "
    f"and save it as DATA_DIR/_downloads/{CIAO_ZIP}, or save the {CIAO_TXT} it holds as DATA_DIR/_downloads/{CIAO_TXT}"
)
LIBIMSETI_ZIP = "libimseti-complete.zip"
LIBIMSETI_MANUAL = (
    "Or get the original Libimseti data by hand: find a copy of libimseti-complete.zip (Brozovsky & Petricek, "
    f"http://www.occamslab.com/petricek/data/), holding ratings.dat, and save it as DATA_DIR/_downloads/{LIBIMSETI_ZIP}"
)


def _konect_reader(name: str, network: str, size_class: str, has_timestamps: bool, alternatives=()) -> Reader:
    filename = f"download.tsv.{network}.tar.bz2"
    url = URL.format(network)

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
        sources=(Source(filename, url, manual=MANUAL.format(url=url, filename=filename)),),
        parse=parse,
        duplicates="keep_latest" if has_timestamps else "keep_max",
        alternatives=tuple(alternatives),
    )


def _add_ciao_ratings(builder: InteractionBuilder, text, label: str) -> None:
    for line_number, line in text_lines(text, label):
        if not line.strip():
            continue
        user, item, _genre, _review, rating, date = split_fields(line, ",", 6, label, line_number)[:6]
        builder.add(user, item, to_number(rating, label, line_number), date_to_seconds(date, label, line_number))


def _ciao_reader(source: Source, member: str | None) -> Reader:
    def parse(files):
        builder = InteractionBuilder(has_timestamps=True)
        with open_text(files[source.filename], member) as (label, text):
            _add_ciao_ratings(builder, text, label)
        return builder

    return Reader(name="CiaoDVD", family="CiaoDVD", size_class="small", sources=(source,), parse=parse,
                  duplicates="keep_latest")


def _parse_libimseti(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[LIBIMSETI_ZIP], "ratings.dat") as (label, text):
        add_rows(builder, text, label, separator=",", columns=(0, 1, 2))
    return builder


LIBIMSETI = Reader(name="Dating", family="Dating", size_class="large",
                   sources=(Source(LIBIMSETI_ZIP, None, manual=LIBIMSETI_MANUAL),), parse=_parse_libimseti,
                   duplicates="keep_max")

READERS = (
    _konect_reader("CiaoDVD", "librec-ciaodvd-movie_ratings", "small", has_timestamps=True, alternatives=(
        _ciao_reader(Source(CIAO_ZIP, CIAO_URL, manual=CIAO_MANUAL), CIAO_TXT),
        _ciao_reader(Source(CIAO_TXT, None, manual=CIAO_MANUAL), None),
    )),
    _konect_reader("Dating", "libimseti", "large", has_timestamps=False, alternatives=(LIBIMSETI,)),
    _konect_reader("Wikilens", "wikilens-ratings", "small", has_timestamps=True),
)
