"""Build the meta-dataset table from an inbox of result zips.

    python -m Experiment_handler.process_inbox INBOX OUT_PREFIX [--metric COLUMN]

``INBOX`` is a local folder or a ``gs://`` path (first copied into a temporary
folder with ``gcloud storage rsync``, or ``gsutil -m rsync`` where gcloud is
missing or ``RECZILLA_STORAGE_CLI=gsutil``). Every ``result_*.zip`` directly inside it is
validated (``Experiment_handler.result_zip_validation``); damaged or foreign
zips are listed with the reason and skipped. ``OUT_PREFIX.csv`` (and
``OUT_PREFIX.parquet`` when pyarrow is installed) gets one row per sample with
the columns of the contract, in this order: the ``search_params`` fields,
``sample_number``, ``hyperparameters_source``, ``param_<name>``, ``f_<feature>``,
``test_metric_<METRIC>_cut_<k>``, ``val_metric_<METRIC>_cut_<k>``,
``time_on_train``, ``time_on_val``, ``time_on_test``, ``time_on_ranking`` (empty for
results made before the shared ranking), ``exception``,
``result_file`` (the zip's name in the inbox), then the code that made the row
(``environment``: ``package_version``, ``git_commit``, ``scikit_learn``; empty
for zips that do not record them). Names within a group are sorted
(metrics by name, then by cutoff), rows by dataset, split, algorithm, result
file and sample number: the same inbox always gives the same table. A summary
follows: rows, datasets, algorithms, failed samples and, per dataset and split,
the sample with the highest value of ``--metric`` (default
``test_metric_NDCG_cut_10``) among those that did not fail.

A sample's identity is ``SAMPLE_IDENTITY``: its dataset, split checksum, algorithm,
both seeds, ``exclude_seen`` (it changes every metric) and sample number. The same
sample found in several zips (a result copied under two names, a re-run copied
again) is kept once, from the zip whose name sorts first, with one warning line per
zip that repeats another, naming both.
"""

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from Data_manager.atomic_files import write_bytes_atomic
from Data_manager.cli_errors import CommandLineError, UsageError, run_cli
from Experiment_handler.result_zip import ResultZipError
from Experiment_handler.result_zip_validation import SEARCH_PARAMS, validate_result_zip

DEFAULT_METRIC = "test_metric_NDCG_cut_10"
METRIC_COLUMN = re.compile(r"^(test|val)_metric_(.+)_cut_(\d+)$")
TRAILING_COLUMNS = ("time_on_train", "time_on_val", "time_on_test", "time_on_ranking", "exception", "result_file",
                    "package_version", "git_commit", "scikit_learn")
CODE_COLUMNS = TRAILING_COLUMNS[-3:]
ROW_ORDER = ("dataset_name", "split_name", "alg_name", "result_file", "sample_number")
SAMPLE_IDENTITY = ("dataset_name", "split_checksum", "alg_name", "alg_seed", "param_seed", "exclude_seen",
                   "sample_number")


def sample_rows(metadata: dict, result_file: str) -> list[dict]:
    """One table row per sample of a validated ``metadata.json``."""
    shared = {key: json.dumps(value) if isinstance(value, list) else value
              for key, value in metadata["search_params"].items()}
    shared.update(metadata["dataset_features"])
    shared.update({key: metadata["environment"].get(key) for key in CODE_COLUMNS})
    rows = []
    for sample in metadata["samples"]:
        row = dict(shared, sample_number=sample["sample_number"],
                   hyperparameters_source=sample["hyperparameters_source"])
        row.update({f"param_{name}": value for name, value in sample["hyperparameters"].items()})
        for prefix, key in (("test", "result_on_test"), ("val", "result_on_validation")):
            for cutoff, metrics in (sample[key] or {}).items():
                row.update({f"{prefix}_metric_{metric}_cut_{cutoff}": value for metric, value in metrics.items()})
        row.update(time_on_train=sample["time_on_train"], time_on_val=sample["time_on_validation"],
                   time_on_test=sample["time_on_test"], time_on_ranking=sample.get("time_on_ranking"),
                   exception=sample["exception"], result_file=result_file)
        rows.append(row)
    return rows


def _column_key(column: str) -> tuple:
    """Sort key of a column: its group in the contract's order, then its place within the group."""
    if column in SEARCH_PARAMS:
        return (0, SEARCH_PARAMS.index(column))
    if column in ("sample_number", "hyperparameters_source"):
        return (2, column == "hyperparameters_source")
    if column in TRAILING_COLUMNS:
        return (8, TRAILING_COLUMNS.index(column))
    match = METRIC_COLUMN.match(column)
    if match:
        return (6 if match[1] == "test" else 7, match[2], int(match[3]))
    for group, prefix in ((3, "param_"), (4, "f_")):
        if column.startswith(prefix):
            return (group, column)
    return (1, column)  # a search_params field beyond the contract's


def _uniform_types(table: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing value types (e.g. a hyperparameter that is a number for
    one algorithm and a string for another) become strings, so Parquet can store them."""
    for column in table.columns[table.dtypes == object]:
        values = table[column].dropna()
        if values.map(type).nunique() > 1:
            table[column] = table[column].map(lambda value: value if pd.isna(value) else str(value))
    return table


def build_table(rows: list[dict]) -> pd.DataFrame:
    """The meta-dataset: rows and columns in their deterministic order."""
    rows = sorted(rows, key=lambda row: (*(str(row[key]) for key in ROW_ORDER[:-1]), row["sample_number"]))
    table = pd.DataFrame(rows)
    for column in (*SEARCH_PARAMS, "sample_number", "hyperparameters_source", *TRAILING_COLUMNS):
        if column not in table:
            table[column] = None
    return _uniform_types(table[sorted(table.columns, key=_column_key)])


def read_inbox(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows of every valid ``result_*.zip`` in ``folder`` (in name order), and ``(name, reason)`` of each skipped one."""
    rows, skipped = [], []
    paths = sorted(path for path in folder.glob("result_*.zip") if path.is_file())
    for path in tqdm(paths, desc="result zips", unit="zip", file=sys.stderr, disable=None):
        try:
            metadata = validate_result_zip(path)
        except ResultZipError as error:
            skipped.append((path.name, str(error).removeprefix(f"{path}: ")))
            continue
        rows.extend(sample_rows(metadata, path.name))
    return rows, skipped


def drop_repeated_samples(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """``rows`` with each ``SAMPLE_IDENTITY`` kept once (its first row), and one warning per repeating zip."""
    first_file, kept = {}, []
    repeats: dict[tuple[str, str], int] = {}
    for row in rows:
        identity = tuple(row[key] for key in SAMPLE_IDENTITY)
        if identity in first_file:
            pair = (row["result_file"], first_file[identity])
            repeats[pair] = repeats.get(pair, 0) + 1
        else:
            first_file[identity] = row["result_file"]
            kept.append(row)
    warnings = [f"warning: {repeat} repeats {count} sample(s) of {original} (same dataset, split checksum, "
                f"algorithm, seeds, exclude_seen and sample number); kept those of {original}"
                for (repeat, original), count in sorted(repeats.items())]
    return kept, warnings


def write_table(table: pd.DataFrame, out_prefix: str) -> list[Path]:
    """Write ``OUT_PREFIX.csv`` and, when pyarrow imports, ``OUT_PREFIX.parquet`` (atomically)."""
    written = [Path(f"{out_prefix}.csv")]
    write_bytes_atomic(written[0], table.to_csv(index=False).encode())
    try:
        import pyarrow  # noqa: F401  (only whether it is installed matters)
    except ImportError:
        return written
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False, engine="pyarrow")
    written.append(Path(f"{out_prefix}.parquet"))
    write_bytes_atomic(written[1], buffer.getvalue())
    return written


def summary(table: pd.DataFrame, metric: str) -> str:
    """Counts, and the best non-failed sample per dataset and split by ``metric``."""
    failed = int(table["exception"].notna().sum())
    lines = [f"{len(table)} rows, {table['dataset_name'].nunique()} datasets, "
             f"{table['alg_name'].nunique()} algorithms, {failed} failed samples"]
    if metric not in table:
        lines.append(f"no values of {metric} in the table")
        return "\n".join(lines)
    values = table[table["exception"].isna()].dropna(subset=[metric])
    lines.append(f"best algorithm per dataset by {metric} (highest):")
    for (dataset, split), group in values.groupby(["dataset_name", "split_name"], sort=True):
        best = group.loc[group[metric].idxmax()]
        lines.append(f"  {dataset} / {split}: {best['alg_name']} (sample {best['sample_number']}, "
                     f"{best['hyperparameters_source']}) {best[metric]:.6g}")
    return "\n".join(lines)


def storage_rsync_command(source: str, folder: Path) -> list[str]:
    """``gcloud storage rsync`` when gcloud is on PATH and ``RECZILLA_STORAGE_CLI`` is not ``gsutil``
    (gsutil is deprecated), else ``gsutil -m rsync``."""
    if os.environ.get("RECZILLA_STORAGE_CLI", "auto") != "gsutil" and shutil.which("gcloud"):
        return ["gcloud", "storage", "rsync", source, str(folder)]
    if shutil.which("gsutil") is None:
        raise CommandLineError(f"neither gcloud nor gsutil is on PATH: needed to read {source}")
    return ["gsutil", "-m", "rsync", source, str(folder)]


def sync_bucket(inbox: str, folder: Path) -> None:
    """Copy the ``gs://`` inbox's top-level files into ``folder``."""
    command = storage_rsync_command(inbox, folder)
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        detail = completed.stderr.strip().splitlines()[-1:] or ["no message"]
        raise CommandLineError(f"{' '.join(command[:-2])} {inbox} failed ({completed.returncode}): {detail[0]}")


def process_inbox(inbox: str, out_prefix: str, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Read, validate and tabulate the inbox; write the table; print skipped zips and the summary."""
    with tempfile.TemporaryDirectory(prefix="reczilla-inbox-") as temp:
        if inbox.startswith("gs://"):
            folder = Path(temp)
            sync_bucket(inbox, folder)
        else:
            folder = Path(inbox)
            if not folder.is_dir():
                raise CommandLineError(f"inbox {inbox} is not a folder")
        rows, skipped = read_inbox(folder)
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    rows, warnings = drop_repeated_samples(rows)
    for warning in warnings:
        print(warning, file=sys.stderr)
    table = build_table(rows)
    written = write_table(table, out_prefix)
    print(f"wrote {', '.join(map(str, written))}")
    if skipped:
        print(f"skipped {len(skipped)} damaged or foreign zips (listed above)")
    print(summary(table, metric))
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m Experiment_handler.process_inbox",
        description="Tabulate every result_*.zip of an inbox into the meta-dataset (one row per sample).",
    )
    parser.add_argument("inbox", help="folder or gs:// path holding result_*.zip files")
    parser.add_argument("out_prefix", help="output path without extension: writes OUT_PREFIX.csv (and .parquet)")
    parser.add_argument("--metric", default=DEFAULT_METRIC,
                        help=f"column ranking the algorithms in the summary (default {DEFAULT_METRIC})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not METRIC_COLUMN.match(args.metric):
        raise UsageError(f"--metric must name a metric column like {DEFAULT_METRIC}, got {args.metric!r}")
    process_inbox(args.inbox, args.out_prefix, args.metric)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
