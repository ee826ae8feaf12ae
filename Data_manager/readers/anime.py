"""Anime recommendations (MyAnimeList, the Kaggle "Anime Recommendations Database").

The reference downloaded its figshare copy, a zip with ``rating.csv`` at the root:
header ``user_id,anime_id,rating``, rating 1-10, or -1 for "watched, not rated"
(kept as the value -1, as in the reference). Duplicate pairs keep the largest rating.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

FILENAME = "Anime.zip"
URL = "https://figshare.com/ndownloader/files/34086440?private_link=5dd2a06011f6bb6aca88"
MANUAL = (
    "Get it by hand: download rating.csv from "
    "https://www.kaggle.com/datasets/CooperUnion/anime-recommendations-database, "
    f"zip it (rating.csv at the zip root) and save the zip as DATA_DIR/_downloads/{FILENAME}"
)


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    with open_text(files[FILENAME], "rating.csv") as (label, text):
        add_rows(builder, text, label, separator=",", columns=(0, 1, 2), header=True)
    return builder


READERS = (
    Reader(
        name="Anime",
        family="Anime",
        size_class="medium",
        sources=(
            Source(FILENAME, URL, manual=MANUAL),
        ),
        parse=_parse,
        duplicates="keep_max",
    ),
)
