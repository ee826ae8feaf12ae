"""The dataset registry: canonical name -> ``DatasetEntry``, and preparing datasets on disk.

A name is canonical without the reference's ``Reader`` suffix (``Movielens100K``);
``canonical_dataset_name`` accepts both spellings, in any case. Each entry knows how to produce
its ``Dataset`` (generate it, or download and parse it); ``prepare_dataset`` keeps a
valid copy in ``DATA_DIR/<name>/`` in the standard format.

To add a family of datasets, write a function returning its ``DatasetEntry`` list
and add it to ``_ENTRY_SOURCES``. The public datasets come from
``Data_manager.readers`` (one module per family); their entries list their source
files (URL, sha256 and size where known, mirrors, manual-download instructions).
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from Data_manager.dataset_format import Dataset, DatasetFormatError, load_dataset, save_dataset
from Data_manager.download import Source
from Data_manager.readers import READERS
from Data_manager.synthetic import SYNTHETIC_CONFIGS, SYNTHETIC_ZOO, generate_synthetic

READER_SUFFIX = "Reader"
SIZE_CLASSES = ("small", "medium", "large")


def size_class_of(n_interactions: int) -> str:
    """``small`` below 100,000 interactions, ``medium`` below 10,000,000, else ``large``."""
    if n_interactions < 100_000:
        return "small"
    return "medium" if n_interactions < 10_000_000 else "large"


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset the project knows.

    ``produce(data_dir)`` returns the ``Dataset`` (named ``name``); a reader may keep
    raw downloads under ``data_dir`` but never writes ``data_dir/<name>/`` itself.
    ``in_default_set``: part of the runs over "all datasets" (e.g. the default of
    ``create_all_data_splits``). ``sources``: the files a downloaded dataset is built
    from; its ``produce`` then also takes download options (``retries``, ``backoff``,
    ``timeout``, ``progress``).
    """

    name: str
    family: str
    size_class: str
    produce: Callable[..., Dataset]
    in_default_set: bool = True
    sources: tuple[Source, ...] = ()

    @property
    def manual_download(self) -> bool:
        """Whether a source may have to be fetched by hand (its instructions say how)."""
        return any(source.manual for source in self.sources)

    def __post_init__(self):
        if self.size_class not in SIZE_CLASSES:
            raise ValueError(f"{self.name}: size_class must be one of {', '.join(SIZE_CLASSES)}")
        if self.name.endswith(READER_SUFFIX):
            raise ValueError(f"{self.name}: register the name without the {READER_SUFFIX!r} suffix")


class UnknownDataset(KeyError):
    """A dataset name the registry does not know."""

    def __str__(self):
        return self.args[0]


def _synthetic_entries() -> list[DatasetEntry]:
    def producer(name):
        return lambda data_dir: generate_synthetic(name)

    return [
        DatasetEntry(
            name=name,
            family="synthetic",
            size_class=size_class_of(config.n_interactions),
            produce=producer(name),
            in_default_set=name != "SyntheticLarge",
        )
        for name, config in SYNTHETIC_CONFIGS.items()
    ] + [
        DatasetEntry(name=name, family="SyntheticZoo", size_class=size_class_of(config.n_interactions),
                     produce=producer(name), in_default_set=False)
        for name, config in SYNTHETIC_ZOO.items()
    ]


def _downloaded_entries() -> list[DatasetEntry]:
    return [
        DatasetEntry(name=reader.name, family=reader.family, size_class=reader.size_class, produce=reader.produce,
                     sources=reader.all_sources)
        for reader in READERS
    ]


_ENTRY_SOURCES = (_synthetic_entries, _downloaded_entries)


def _gather(sources) -> dict[str, DatasetEntry]:
    entries = {}
    for source in sources:
        for entry in source():
            if entry.name.casefold() in {name.casefold() for name in entries}:
                raise RuntimeError(f"dataset {entry.name} is registered twice (names are compared in any case)")
            entries[entry.name] = entry
    return entries


DATASETS: dict[str, DatasetEntry] = _gather(_ENTRY_SOURCES)


def registry_rows() -> list[list[str]]:
    """The registry as table rows (header first), one row per source file; generated datasets have none."""
    rows = [["dataset", "family", "size", "default", "manual", "sha256", "file", "url"]]
    for entry in DATASETS.values():
        common = [entry.name, entry.family, entry.size_class, "yes" if entry.in_default_set else "no"]
        if not entry.sources:
            rows.append(common + ["-", "-", "-", "(generated)"])
        for source in entry.sources:
            rows.append(common + [
                "yes" if source.manual else "no", "known" if source.sha256 else "-", source.filename,
                " ".join([source.url or "-", *source.mirrors]),
            ])
    return rows


def default_dataset_names() -> list[str]:
    """Names of the entries with ``in_default_set``, in registry order."""
    return [name for name, entry in DATASETS.items() if entry.in_default_set]


def canonical_dataset_name(name: str) -> str:
    """The registry's spelling of ``name``: any case, with or without a trailing ``Reader``.

    ``UnknownDataset`` otherwise, suggesting the closest names and listing the valid ones.
    """
    by_folded_name = {registered.casefold(): registered for registered in DATASETS}
    folded = name.casefold()
    suffix = READER_SUFFIX.casefold()
    for candidate in (folded, folded[: -len(suffix)] if folded.endswith(suffix) else None):
        if candidate in by_folded_name:
            return by_folded_name[candidate]
    close = difflib.get_close_matches(folded.removesuffix(suffix), by_folded_name, n=3, cutoff=0.75)
    hint = f"; did you mean {' or '.join(by_folded_name[match] for match in close)}?" if close else ""
    raise UnknownDataset(f"unknown dataset {name!r}{hint} (valid names: {', '.join(DATASETS)})")


def _prepared(name: str, data_dir, produce_options: dict) -> tuple[Path, Dataset]:
    name = canonical_dataset_name(name)
    folder = Path(data_dir) / name
    if folder.exists():
        try:
            dataset = load_dataset(folder)
        except DatasetFormatError:
            dataset = None
        if dataset is not None and dataset.name == name:
            return folder, dataset
    produced = DATASETS[name].produce(Path(data_dir), **produce_options)
    if produced.name != name:
        raise DatasetFormatError(f"the producer of {name} returned a dataset named {produced.name!r}")
    save_dataset(produced, data_dir)
    return folder, load_dataset(folder)


def prepare_dataset(name: str, data_dir, **produce_options) -> Path:
    """``data_dir/<canonical name>``: kept when it loads as valid, else produced and saved atomically.

    ``produce_options`` go to the entry's ``produce`` (download options of downloaded datasets).
    """
    return _prepared(name, data_dir, produce_options)[0]


def load_prepared_dataset(name: str, data_dir, **produce_options) -> Dataset:
    """The dataset ``name`` as stored in ``data_dir`` (prepared first when needed)."""
    return _prepared(name, data_dir, produce_options)[1]
