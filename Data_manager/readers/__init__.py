"""Readers of the public datasets, one module per family; ``READERS`` lists them all.

Each family module defines ``READERS``, a tuple of :class:`~Data_manager.readers.base.Reader`.
To add a family, write its module and add it to ``_FAMILY_MODULES``.
"""

from importlib import import_module

_FAMILY_MODULES = (
    "amazon", "movielens", "anime", "book_crossing", "konect", "epinions", "film_trust", "frappe",
    "google_local", "gowalla", "jester", "lastfm", "market_bias", "movie_tweetings", "netflix", "recipes", "yahoo",
)

READERS = tuple(reader for module in _FAMILY_MODULES for reader in import_module(f"{__name__}.{module}").READERS)
