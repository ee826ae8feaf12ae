"""Run one experiment from the command line (11 positional arguments, as the reference).

    python -m Experiment_handler.run_experiment time_limit dataset_name split_type alg_name \
        split_dir alg_seed param_seed num_samples result_dir experiment_name original_split_path

Every argument and ``RECZILLA_*`` setting is checked first (``Recommenders.settings``),
then the split; then ``result_dir`` is locked (``Experiment_handler.result_dir_lock``)
and the search runs in a child process that dies with this one
(``Experiment_handler.search_process``). At ``time_limit`` seconds the child is
killed, the finished samples stay in ``result_dir/result.zip`` and its status
becomes ``time_limit``. Exit status: 0 when the search completed or reached its
time limit; 1 on an error (damaged split, crash, result_dir in use or holding
another experiment); 2 on bad arguments or settings (result_dir not a writable
folder included). ``RECZILLA_EXCLUDE_SEEN=0`` ranks training items too (the
published protocol).
The neural models need PyTorch (exit 2 with the install command without it) and train on
``RECZILLA_DEVICE`` (``cpu`` by default, ``cuda``; exit 2 when it names no usable device).
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from Data_manager.cli_errors import CommandLineError, UsageError, run_cli
from Data_manager.datasets import UnknownDataset, canonical_dataset_name
from Data_manager.split_format import DataSplit, SplitFormatError, load_split, split_checksum
from Data_manager.splitters import UnknownSplitter, get_splitter
from Experiment_handler.experiment import (
    ExperimentConfig,
    ResumeMismatch,
    describe_exception,
    finish_interrupted,
    resumed_samples,
    run_search,
    split_ndcg_gain,
)
from Experiment_handler.metafeatures import load_or_compute_metafeatures
from Experiment_handler.result_dir_lock import ResultDirBusy, ResultDirUnusable, lock_result_dir
from Experiment_handler.result_zip import MAX_SAMPLES, read_result_metadata
from Experiment_handler.search_process import start_search, stop_search, wait_for_search
from Recommenders.neural.torch_runtime import TORCH_INSTALL_COMMAND, requested_device, select_device, torch_installed
from Recommenders.registry import UnknownAlgorithm, get_algorithm
from Recommenders.settings import (
    SettingError,
    check_environment,
    check_num_samples,
    check_seed,
    exclude_seen_setting,
    parse_time_limit,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m Experiment_handler.run_experiment",
        description="Fit and evaluate num_samples hyperparameter configurations of one algorithm on one split.",
    )
    parser.add_argument("time_limit", help="seconds for the whole search (a positive number: 600, 1e3)")
    parser.add_argument("dataset_name", help="dataset name, with or without the 'Reader' suffix")
    parser.add_argument("split_type", help="splitter name, e.g. DataSplitter_leave_k_out_last")
    parser.add_argument("alg_name", help="algorithm name, e.g. ItemKNNCF_cosine")
    parser.add_argument("split_dir", help="folder holding split.json and the URM_*.npz files")
    parser.add_argument("alg_seed", type=int, help="seed of the algorithm's randomness")
    parser.add_argument("param_seed", type=int, help="seed of the Sobol hyperparameter samples")
    parser.add_argument("num_samples", type=int,
                        help=f"configurations to run, the default one included (at most {MAX_SAMPLES})")
    parser.add_argument("result_dir", help="folder receiving result.zip (created when missing)")
    parser.add_argument("experiment_name", help="a name recorded in the result")
    parser.add_argument("original_split_path", help="where the split came from (bookkeeping only)")
    return parser


def check_neural_setup(alg_name: str) -> None:
    """PyTorch installed and ``RECZILLA_DEVICE`` usable, else a usage error naming the fix.

    torch is imported here only for a GPU request (to see the device); the search process
    imports it itself. Importing without running a kernel keeps forking the search process safe.
    """
    if not torch_installed():
        raise UsageError(f"{alg_name} needs PyTorch, which is not installed; install it with: "
                         f"{TORCH_INSTALL_COMMAND}")
    try:
        if requested_device() != "cpu":
            select_device()
    except (ValueError, RuntimeError) as error:
        raise UsageError(str(error)) from None


def resolve(args: argparse.Namespace) -> tuple[ExperimentConfig, DataSplit]:
    """Check every argument and setting, and the split, before anything is written;
    returns the config and the loaded split."""
    try:
        time_limit = parse_time_limit(args.time_limit)
        check_seed("alg_seed", args.alg_seed)
        check_seed("param_seed", args.param_seed)
        check_num_samples(args.num_samples, MAX_SAMPLES)
        check_environment()
    except SettingError as error:
        raise UsageError(str(error)) from None
    try:
        dataset_name = canonical_dataset_name(args.dataset_name)
        get_splitter(args.split_type)
        spec = get_algorithm(args.alg_name)
    except (UnknownDataset, UnknownSplitter, UnknownAlgorithm) as error:
        raise UsageError(str(error)) from None
    if spec.extra == "neural":
        check_neural_setup(args.alg_name)
    try:
        split = load_split(args.split_dir)
    except SplitFormatError as error:
        raise CommandLineError(str(error)) from None
    for key, expected in (("dataset_name", dataset_name), ("splitter_name", args.split_type)):
        if split.info.get(key) != expected:
            raise CommandLineError(
                f"{args.split_dir}: split.json says {key} {split.info.get(key)!r}, the command line {expected!r}"
            )
    try:
        ndcg_gain = split_ndcg_gain(split)
    except ValueError as error:
        raise CommandLineError(f"{args.split_dir}: {error}") from None
    config = ExperimentConfig(
        time_limit=time_limit,
        dataset_name=dataset_name,
        split_name=args.split_type,
        alg_name=args.alg_name,
        split_dir=str(Path(args.split_dir).resolve()),
        alg_seed=args.alg_seed,
        param_seed=args.param_seed,
        num_samples=args.num_samples,
        result_dir=str(Path(args.result_dir).resolve()),
        experiment_name=args.experiment_name,
        original_split_path=args.original_split_path,
        exclude_seen=exclude_seen_setting(),
        split_checksum=split_checksum(split.info),
        ndcg_gain=ndcg_gain,
    )
    return config, split


def claim_result_dir(config: ExperimentConfig) -> None:
    """Lock ``result_dir`` for this command and check that it holds no other experiment."""
    try:
        lock_result_dir(config.result_dir)
    except ResultDirUnusable as error:
        raise UsageError(str(error)) from None
    except ResultDirBusy as error:
        raise CommandLineError(str(error)) from None
    try:
        resumed_samples(config)
    except ResumeMismatch as error:
        raise CommandLineError(str(error)) from None


def _search(config: ExperimentConfig, split: DataSplit) -> None:
    """The search process's work; its exit status says whether it recorded its own error."""
    try:
        run_search(config, split, load_or_compute_metafeatures(config.split_dir))
    except Exception as error:
        message = describe_exception(error)
        if finish_interrupted(config, "error", message) is None:  # no zip to carry the message to main
            sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def supervise(config: ExperimentConfig, split: DataSplit, started: float) -> dict | None:
    """Run the search in a forked child; stop it at the time limit or on SIGINT/SIGTERM.

    Forking is safe because this process has run no OpenMP kernel (libgomp's pools do
    not survive a fork); it only parsed arguments and loaded the split, which the child
    then uses without a copy.
    """
    received = []
    process = None

    def on_signal(signum, _frame):
        received.append(signum)
        if process is not None:
            stop_search(process)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process = start_search(_search, config, split)
        wait_for_search(process, started + config.time_limit)
        if process.is_alive():
            stop_search(process)
            return finish_interrupted(config, "time_limit", None)
        if received:
            return finish_interrupted(config, "error", f"interrupted by {signal.Signals(received[0]).name}")
        if process.exitcode in (0, 1):  # finished, or recorded its own error
            return read_result_metadata(config.result_zip) if config.result_zip.exists() else None
        return finish_interrupted(config, "error", f"search process died (exit code {process.exitcode})")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = build_parser().parse_args(argv)
    config, split = resolve(args)
    claim_result_dir(config)
    metadata = supervise(config, split, started)
    if metadata is None:
        raise CommandLineError(f"the search wrote no result to {config.result_zip}")
    failed = sum(1 for sample in metadata["samples"] if sample["exception"])
    print(f"{config.result_zip}: status {metadata['status']}, {len(metadata['samples'])} samples, {failed} failed")
    if metadata["status"] == "error":
        print(f"error: {metadata.get('error')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
