"""Download, check and list the public datasets: ``python -m Data_manager.download_check_all_data``.

    python -m Data_manager.download_check_all_data --data-dir DIR [--datasets NAME ...]
        [--retries N] [--backoff SECONDS] [--timeout SECONDS]
    python -m Data_manager.download_check_all_data --list
    python -m Data_manager.download_check_all_data --check-links [--datasets NAME ...]

Each dataset (default: every downloaded one in the registry) is kept when
``DIR/<Dataset>/`` already loads as valid; otherwise its source files are fetched
into ``DIR/_downloads/`` (only those missing or damaged), parsed and saved
atomically. Every dataset is then loaded and must have users, items and
interactions. A failure (unreachable source, corrupt archive, checksum mismatch,
malformed line, ...) is reported with its reason, leaves no dataset folder behind,
and the run goes on. A table of SUCCESS/FAILURE per dataset ends the run; the exit
code is 0 only when every dataset succeeded (2 for unknown names).

``--check-links`` asks every source URL for its headers and reports the dead ones
(exit code 1 when a source has no live URL). ``RECZILLA_DATA_MIRROR`` redirects every
download to ``<mirror>/<file name>``.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from Data_manager.cli_errors import UsageError, check_folder_argument, failure_detail, run_cli
from Data_manager.dataset_format import DatasetFormatError, sources_verified
from Data_manager.datasets import DATASETS, UnknownDataset, canonical_dataset_name, load_prepared_dataset, registry_rows
from Data_manager.download import check_link
from Data_manager.text_table import format_table

PROG = "download_check_all_data"


@dataclass
class Outcome:
    """The result for one dataset: SUCCESS or FAILURE, and what happened."""

    dataset: str
    status: str
    detail: str


def _stamp(folder: Path):
    """Identity of a dataset folder's ``dataset.json`` (changes whenever the folder is rewritten)."""
    try:
        info = (folder / "dataset.json").stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def check_dataset(name: str, data_dir, download_options: dict) -> Outcome:
    """Prepare (keep, or download and parse) dataset ``name`` and check it loads with a positive shape."""
    entry = DATASETS[name]
    before = _stamp(Path(data_dir) / name)
    try:
        dataset = load_prepared_dataset(name, data_dir, **(download_options if entry.sources else {}))
        n_users, n_items = dataset.URM_all.shape
        n_interactions = dataset.URM_all.nnz
        if min(n_users, n_items, n_interactions) <= 0:
            raise DatasetFormatError(f"empty dataset: {n_users} users x {n_items} items, {n_interactions} interactions")
    except Exception as error:
        return Outcome(name, "FAILURE", failure_detail(error))
    kept = before is not None and before == _stamp(Path(data_dir) / name)
    detail = f"{'kept' if kept else 'prepared'}: {n_users} users x {n_items} items, {n_interactions} interactions"
    return Outcome(name, "SUCCESS", detail + _source_notes(dataset.sources, kept))


def _source_notes(sources: list, kept: bool) -> str:
    """What the row must add about the source files: notes of a fresh preparation, an unverified kept one."""
    if not kept:
        notes = [source["note"] for source in sources if source.get("note")]
        return "".join(f"; {note}" for note in notes) + ("; verified: false" if sources_verified(sources) is False else "")
    unverified = [source["file"] for source in sources if source.get("verified") is False]
    return f"; verified: false ({', '.join(unverified)} differ from the known release)" if unverified else ""


def check_links(names: list[str], timeout: float) -> int:
    """Print the state of every source URL of ``names``; 1 when a source has no live URL."""
    rows = [["dataset", "file", "status", "url"]]
    unreachable = []
    for name in names:
        for source in DATASETS[name].sources:
            if not source.urls():
                rows.append([name, source.filename, "MANUAL (no URL: place it by hand)", "-"])
                continue
            alive = False
            for url in source.urls():
                reason = check_link(url, timeout)
                alive = alive or reason is None
                rows.append([name, source.filename, "OK" if reason is None else f"DEAD ({reason})", url])
            if not alive:
                unreachable.append(source.filename)
    print(format_table(rows))
    listed = f": {', '.join(unreachable)}" if unreachable else ""
    print(f"{len(unreachable)} source file(s) without a live URL{listed}")
    return 1 if unreachable else 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Download, check and list the public datasets.")
    parser.add_argument("--data-dir", type=Path, help="folder of the datasets (raw downloads go to DIR/_downloads)")
    parser.add_argument("--datasets", nargs="+", metavar="NAME",
                        help="datasets to prepare (default: every downloaded one)")
    parser.add_argument("--retries", type=int, default=3, help="retries per URL after a transient failure (default 3)")
    parser.add_argument("--backoff", type=float, default=2.0,
                        help="first retry delay in seconds, doubled each time (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="network time-out in seconds (default 60)")
    parser.add_argument("--list", action="store_true", help="list the registry (datasets and source files), then exit")
    parser.add_argument("--check-links", action="store_true", help="ask every source URL for its headers, then exit")
    args = parser.parse_args(argv)
    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0:
        raise UsageError("--retries and --backoff must be >= 0, --timeout > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print(format_table(registry_rows()))
        return 0
    default = [name for name, entry in DATASETS.items() if entry.sources]
    names = list(dict.fromkeys(canonical_dataset_name(name) for name in args.datasets or default))
    if args.check_links:
        return check_links(names, args.timeout)
    if args.data_dir is None:
        raise UsageError("--data-dir is required (unless --list or --check-links)")
    check_folder_argument("--data-dir", args.data_dir)
    options = {"retries": args.retries, "backoff": args.backoff, "timeout": args.timeout}
    outcomes = []
    with tqdm(names, desc="datasets", unit="dataset", disable=None) as bar:
        for name in bar:
            bar.set_postfix_str(name)
            outcomes.append(check_dataset(name, args.data_dir, options))
    print(format_table([["dataset", "status", "detail"]] + [[o.dataset, o.status, o.detail] for o in outcomes]))
    failed = sum(outcome.status == "FAILURE" for outcome in outcomes)
    print(f"{len(outcomes) - failed} succeeded, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG, usage_errors=(UnknownDataset,)))
