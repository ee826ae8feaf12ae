"""Write every dataset x splitter split: ``python -m Data_manager.create_all_data_splits``.

    python -m Data_manager.create_all_data_splits --data-dir DIR --splits-dir SDIR \\
        [--datasets NAME ...] [--splitters NAME ...] [--list]

Each dataset is prepared in ``DIR`` (kept when valid, else produced) and split into
``SDIR/<Dataset>/<Splitter>/``. A split that already exists, validates and was made
from the same data with the same parameters is kept (``EXISTS``). A splitter that
does not apply (``global_timestamp`` on data without timestamps) is ``SKIPPED``. A
failure is reported, leaves no partial folder, and the run goes on. A summary table
ends the run; the exit code is 0 when nothing failed, 1 otherwise, 2 for unknown
names.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from Data_manager.cli_errors import UsageError, check_folder_argument, failure_detail, one_line, run_cli
from Data_manager.dataset_format import Dataset
from Data_manager.datasets import (
    UnknownDataset,
    canonical_dataset_name,
    default_dataset_names,
    load_prepared_dataset,
    registry_rows,
)
from Data_manager.split_format import MATRIX_NAMES, SplitFormatError, load_split, split_folder, write_split
from Data_manager.splitters import (
    SPLITTERS,
    DataSplitter,
    SplitterNotApplicable,
    UnknownSplitter,
    dataset_fingerprint,
    get_splitter,
)
from Data_manager.text_table import format_table

PROG = "create_all_data_splits"


@dataclass
class Outcome:
    """The result of one dataset x splitter pair: SUCCESS, EXISTS, SKIPPED or FAILURE."""

    dataset: str
    splitter: str
    status: str
    detail: str


def _counts(info: dict) -> str:
    shape = "x".join(str(n) for n in info["shape"])
    counts = info["n_interactions"]
    parts = ", ".join(f"{name.removeprefix('URM_')} {counts[name]}" for name in MATRIX_NAMES if name in counts)
    return f"{shape}: {parts}"


def _existing_split(folder: Path, dataset: Dataset, splitter: DataSplitter) -> dict | None:
    """The info of a valid split at ``folder`` made from ``dataset`` by ``splitter``, else ``None``."""
    try:
        info = load_split(folder).info
    except SplitFormatError:
        return None
    same = (
        info.get("dataset_name") == dataset.name
        and info.get("splitter_name") == splitter.name
        and info.get("params") == splitter.params()
        and info.get("dataset_sha256") == dataset_fingerprint(dataset)
        and info.get("value_kind") == dataset.value_kind
    )
    return info if same else None


def split_one(dataset: Dataset, splitter: DataSplitter, splits_dir) -> Outcome:
    """Write (or keep) the split of ``dataset`` by ``splitter``; never raises for a failed split."""
    folder = split_folder(splits_dir, dataset.name, splitter.name)
    existing = _existing_split(folder, dataset, splitter)
    if existing is not None:
        return Outcome(dataset.name, splitter.name, "EXISTS", _counts(existing))
    try:
        info = write_split(folder, splitter.split(dataset))
    except SplitterNotApplicable as error:
        return Outcome(dataset.name, splitter.name, "SKIPPED", one_line(error))
    except Exception as error:
        return Outcome(dataset.name, splitter.name, "FAILURE", failure_detail(error))
    return Outcome(dataset.name, splitter.name, "SUCCESS", _counts(info))


def _listing() -> str:
    splitters = [["splitter", "parameters"]] + [[name, str(cls().params())] for name, cls in SPLITTERS.items()]
    return format_table(registry_rows()) + "\n\n" + format_table(splitters)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Write the train/validation/test splits of datasets.")
    parser.add_argument("--data-dir", type=Path, help="folder of the prepared datasets (missing ones are made there)")
    parser.add_argument("--splits-dir", type=Path, help="folder receiving <Dataset>/<Splitter>/ splits")
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help="datasets to split (default: the default set)")
    parser.add_argument("--splitters", nargs="+", metavar="NAME", help="splitters to use (default: all)")
    parser.add_argument("--list", action="store_true", help="list the known datasets and splitters, then exit")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    if args.data_dir is None or args.splits_dir is None:
        raise UsageError("--data-dir and --splits-dir are required (unless --list)")
    check_folder_argument("--data-dir", args.data_dir)
    check_folder_argument("--splits-dir", args.splits_dir)
    requested = args.datasets or default_dataset_names()
    dataset_names = list(dict.fromkeys(canonical_dataset_name(name) for name in requested))
    splitter_classes = list(dict.fromkeys(get_splitter(name) for name in args.splitters or SPLITTERS))

    outcomes = []
    with tqdm(total=len(dataset_names) * len(splitter_classes), desc="splits", unit="split", disable=None) as bar:
        for dataset_name in dataset_names:
            bar.set_postfix_str(dataset_name)
            try:
                dataset = load_prepared_dataset(dataset_name, args.data_dir)
            except Exception as error:
                detail = f"dataset not prepared: {failure_detail(error)}"
                outcomes += [Outcome(dataset_name, cls.name, "FAILURE", detail) for cls in splitter_classes]
                bar.update(len(splitter_classes))
                continue
            for splitter_class in splitter_classes:
                outcomes.append(split_one(dataset, splitter_class(), args.splits_dir))
                bar.update()

    rows = [[outcome.dataset, outcome.splitter, outcome.status, outcome.detail] for outcome in outcomes]
    print(format_table([["dataset", "splitter", "status", "detail"]] + rows))
    statuses = [outcome.status for outcome in outcomes]
    print(
        f"{statuses.count('SUCCESS')} written, {statuses.count('EXISTS')} already present, "
        f"{statuses.count('SKIPPED')} skipped, {statuses.count('FAILURE')} failed"
    )
    return 1 if "FAILURE" in statuses else 0


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG, usage_errors=(UnknownDataset, UnknownSplitter)))
