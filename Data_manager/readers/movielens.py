"""MovieLens (GroupLens): 100K, 1M, 10M, 20M and the HetRec 2011 2k subset.

Layouts (inside each zip):

- 100K: ``ml-100k/u.data``, tab-separated ``user item rating timestamp``.
- 1M: ``ml-1m/ratings.dat``, ``user::movie::rating::timestamp``; the movie catalogue
  ``ml-1m/movies.dat`` and the user list ``ml-1m/users.dat`` (``::``-separated,
  Latin-1, no header) give the indices, as in the reference; ratings of movies or
  users outside them are ignored.
- 10M: ``ml-10M100K/ratings.dat`` (``::``), movie catalogue ``ml-10M100K/movies.dat``.
- 20M: ``ml-20m/ratings.csv`` (header ``userId,movieId,rating,timestamp``), movie
  catalogue ``ml-20m/movies.csv`` (header, quoted titles).
- HetRec 2011: ``user_ratedmovies.dat`` at the zip root, tab-separated with a header;
  the reference read user, movie, rating and no timestamp.

Movies of a catalogue that nobody rated are kept as empty columns (the reference's
item catalogue). The reference read ``movies.dat`` and ``users.dat`` of 1M and 10M as
if they had a header row, losing movie 1 and user 1 (with all their ratings); they
have none, and every line is read here.

Checksums of 100K, 1M and 20M: TensorFlow Datasets' ``url_checksums/movielens.txt``.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text, text_lines

ML_URL = "https://files.grouplens.org/datasets/movielens/{}"
HETREC_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-movielens-2k-v2.zip"


def _catalogue(path, member: str, separator: str, header: bool) -> list[str]:
    """The first field of every line of a catalogue file (Latin-1: only the ids are read)."""
    with open_text(path, member, encoding="latin-1") as (label, text):
        return [
            line.split(separator, 1)[0]
            for line_number, line in text_lines(text, label)
            if line.strip() and not (header and line_number == 1)
        ]


def _parse_100k(files):
    builder = InteractionBuilder(has_timestamps=True)
    with open_text(files["ml-100k.zip"], "ml-100k/u.data") as (label, text):
        add_rows(builder, text, label, separator="\t", columns=(0, 1, 2, 3))
    return builder


def _parse_1m(files):
    archive = files["ml-1m.zip"]
    builder = InteractionBuilder(
        has_timestamps=True,
        users=_catalogue(archive, "ml-1m/users.dat", "::", header=False),
        items=_catalogue(archive, "ml-1m/movies.dat", "::", header=False),
        add_users=False,
        add_items=False,
    )
    with open_text(archive, "ml-1m/ratings.dat") as (label, text):
        add_rows(builder, text, label, separator="::", columns=(0, 1, 2, 3))
    return builder


def _parse_10m(files):
    archive = files["ml-10m.zip"]
    builder = InteractionBuilder(
        has_timestamps=True, items=_catalogue(archive, "ml-10M100K/movies.dat", "::", header=False), add_items=False
    )
    with open_text(archive, "ml-10M100K/ratings.dat") as (label, text):
        add_rows(builder, text, label, separator="::", columns=(0, 1, 2, 3))
    return builder


def _parse_20m(files):
    archive = files["ml-20m.zip"]
    builder = InteractionBuilder(
        has_timestamps=True, items=_catalogue(archive, "ml-20m/movies.csv", ",", header=True), add_items=False
    )
    with open_text(archive, "ml-20m/ratings.csv") as (label, text):
        add_rows(builder, text, label, separator=",", columns=(0, 1, 2, 3), header=True)
    return builder


def _parse_hetrec(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files["hetrec2011-movielens-2k-v2.zip"], "user_ratedmovies.dat") as (label, text):
        add_rows(builder, text, label, separator="\t", columns=(0, 1, 2), header=True)
    return builder


READERS = (
    Reader(
        name="Movielens100K",
        family="Movielens",
        size_class="medium",
        sources=(
            Source(
                "ml-100k.zip",
                ML_URL.format("ml-100k.zip"),
                sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                size=4924029,
            ),
        ),
        parse=_parse_100k,
    ),
    Reader(
        name="Movielens1M",
        family="Movielens",
        size_class="medium",
        sources=(
            Source(
                "ml-1m.zip",
                ML_URL.format("ml-1m.zip"),
                sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                size=5917549,
            ),
        ),
        parse=_parse_1m,
    ),
    Reader(
        name="Movielens10M",
        family="Movielens",
        size_class="large",
        sources=(Source("ml-10m.zip", ML_URL.format("ml-10m.zip")),),
        parse=_parse_10m,
    ),
    Reader(
        name="Movielens20M",
        family="Movielens",
        size_class="large",
        sources=(
            Source(
                "ml-20m.zip",
                ML_URL.format("ml-20m.zip"),
                sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                size=198702078,
            ),
        ),
        parse=_parse_20m,
    ),
    Reader(
        name="MovielensHetrec2011",
        family="Movielens",
        size_class="medium",
        sources=(Source("hetrec2011-movielens-2k-v2.zip", HETREC_URL),),
        parse=_parse_hetrec,
    ),
)
