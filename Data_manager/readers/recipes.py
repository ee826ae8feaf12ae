"""Food.com recipe reviews (Majumder et al., EMNLP 2019), the reference's figshare copy.

Layout: one CSV file (``RAW_interactions.csv``) with the header
``user_id,recipe_id,date,rating,review``; reviews are quoted and may hold commas and
line breaks. The date (``YYYY-MM-DD``) is stored as UTC seconds. A rating of 0 (a
review without stars) is dropped like every zero value. Duplicate pairs keep the
latest review.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_csv_rows, date_to_seconds, open_text

FILENAME = "RAW_interactions.csv"
URL = "https://figshare.com/ndownloader/files/33995063?private_link=456a101191852d37131e"
MANUAL = (
    "Get it by hand: download RAW_interactions.csv from "
    "https://www.kaggle.com/datasets/shuyangli94/food-com-recipes-and-user-interactions "
    f"and save it as DATA_DIR/_downloads/{FILENAME}"
)


def _parse(files):
    builder = InteractionBuilder(has_timestamps=True)
    with open_text(files[FILENAME]) as (label, text):
        add_csv_rows(
            builder, text, label, columns=("user_id", "recipe_id", "rating", "date"), timestamp=date_to_seconds
        )
    return builder


READERS = (
    Reader(
        name="Recipes",
        family="Recipes",
        size_class="medium",
        sources=(
            Source(FILENAME, URL, manual=MANUAL),
        ),
        parse=_parse,
        duplicates="keep_latest",
    ),
)
