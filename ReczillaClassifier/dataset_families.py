"""Dataset families for leave-one-family-out evaluation.

The reference (``ReczillaClassifier/dataset_families.py``) groups its datasets into
three families, Amazon (every ``Amazon<Category>``), Movielens (100K, 1M, 10M, 20M and
Hetrec2011) and Yahoo (Movies, Music); every other dataset is its own family. Names
are taken with or without the reference's ``Reader`` suffix.
"""

READER_SUFFIX = "Reader"
MOVIELENS = frozenset({"Movielens100K", "Movielens1M", "Movielens10M", "Movielens20M", "MovielensHetrec2011"})
YAHOO = frozenset({"YahooMovies", "YahooMusic"})


def dataset_family(dataset_name: str) -> str:
    """The family of ``dataset_name``: Amazon, Movielens, Yahoo, or the name itself."""
    name = dataset_name.removesuffix(READER_SUFFIX)
    if name.startswith("Amazon"):
        return "Amazon"
    if name in MOVIELENS:
        return "Movielens"
    if name in YAHOO:
        return "Yahoo"
    return name
