"""Market-bias datasets (Wan et al., RecSys 2020): Amazon electronics and ModCloth ratings
(each its own family, as in the reference).

Each source is one CSV file from the authors' repository, with a header row and
quoted fields; the reader uses the ``user_id``, ``item_id``, ``rating`` and
``timestamp`` columns (an ISO date, stored as UTC seconds; the reference kept
nanoseconds). Duplicate pairs keep the latest rating, as in the reference.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_csv_rows, date_to_seconds, open_text

URL = "https://raw.githubusercontent.com/MengtingWan/marketBias/master/data/{}"


def _reader(name: str, filename: str, size_class: str) -> Reader:
    def parse(files):
        builder = InteractionBuilder(has_timestamps=True)
        with open_text(files[filename]) as (label, text):
            add_csv_rows(builder, text, label, columns=("user_id", "item_id", "rating", "timestamp"),
                         timestamp=date_to_seconds)
        return builder

    return Reader(
        name=name,
        family=name,
        size_class=size_class,
        sources=(Source(filename, URL.format(filename)),),
        parse=parse,
        duplicates="keep_latest",
    )


READERS = (
    _reader("MarketBiasAmazon", "df_electronics.csv", "medium"),
    _reader("MarketBiasModCloth", "df_modcloth.csv", "small"),
)
