"""One experiment: a dataset split, an algorithm, and a random search of its hyperparameters.

``run_search`` fits the default configuration and then the Sobol samples, each
evaluated on validation and test from one ranking (``SharedRankingEvaluator``:
``time_on_validation``/``time_on_test`` are what evaluating that set alone costs,
``time_on_ranking`` the shared ranking's seconds), recording every sample as it
finishes (``Experiment_handler.result_store``: a journal, and the zip on a schedule).
A sample that raises records ``"ClassName: message"`` and the search goes on.
Running again into the same result_dir resumes: finished samples are kept.
"""

import datetime as dt
import importlib.metadata
import platform
import random
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy

from Data_manager.split_format import DataSplit
from Data_manager.version import __version__, git_commit
from Experiment_handler.evaluator import DEFAULT_CUTOFFS, SharedRankingEvaluator, early_stopping_metric
from Experiment_handler.metrics import check_ndcg_gain, ndcg_gain_for
from Experiment_handler.result_store import JOURNAL_NAME, JournalMismatch, ResultWriter, load_samples
from Experiment_handler.result_zip import SCHEMA_VERSION, ResultZipError, write_result_zip
from Recommenders.neural.torch_runtime import torch_environment
from Recommenders.registry import get_algorithm
from Recommenders.threads import limited_threads

#: search_params that must agree for a result zip to be resumed.
RESUME_KEYS = ("dataset_name", "split_name", "alg_name", "alg_seed", "param_seed", "cutoff_list", "exclude_seen",
               "split_checksum", "ndcg_gain")
#: The longest exception message a sample records (a result's size must stay bounded).
MAX_EXCEPTION_CHARS = 1000


class ResumeMismatch(ValueError):
    """The result zip in result_dir belongs to a different experiment."""


@dataclass(frozen=True)
class ExperimentConfig:
    """The command line's settings, resolved (canonical dataset name, absolute paths)."""

    time_limit: float
    dataset_name: str
    split_name: str
    alg_name: str
    split_dir: str
    alg_seed: int
    param_seed: int
    num_samples: int
    result_dir: str
    experiment_name: str
    original_split_path: str
    exclude_seen: bool
    split_checksum: str
    ndcg_gain: str

    @property
    def result_zip(self) -> Path:
        return Path(self.result_dir) / "result.zip"

    @property
    def log_path(self) -> Path:
        return Path(self.result_dir) / "experiment.log"

    @property
    def journal_path(self) -> Path:
        return Path(self.result_dir) / JOURNAL_NAME

    def search_params(self) -> dict:
        params = asdict(self)
        del params["split_dir"], params["result_dir"]
        params["time"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        params["cutoff_list"] = list(DEFAULT_CUTOFFS)
        if self.time_limit.is_integer() and self.time_limit < 2**53:
            params["time_limit"] = int(self.time_limit)  # 1e3 is recorded as 1000
        return params

    def identity(self) -> dict:
        """The search_params that must agree for a result_dir to be resumed."""
        params = self.search_params()
        return {key: params[key] for key in RESUME_KEYS}


def split_ndcg_gain(split: DataSplit) -> str:
    """NDCG's gain for the split's ``value_kind``; ``ValueError`` when a matrix's values would
    make it overflow (a split without ``value_kind`` holding counts)."""
    ndcg_gain = ndcg_gain_for(split.info.get("value_kind"))
    for name, matrix in split.matrices().items():
        try:
            check_ndcg_gain(ndcg_gain, matrix.data)
        except ValueError as error:
            raise ValueError(f"{name}: {error} (split.json's value_kind is {split.info.get('value_kind')!r}; "
                             "re-create the split to record the dataset's)") from None
    return ndcg_gain


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_info(spec) -> dict:
    """The code and library versions that produce a result (scikit-learn's: NMF, PureSVD and
    SLIM-ElasticNet depend on it), the machine, and for a neural model torch's version and the device."""
    info = {
        "package_version": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": _installed_version("scikit-learn"),
        "hostname": socket.gethostname(),
    }
    if spec.extra == "neural":
        info.update(torch_environment())
    return info


def describe_exception(error: BaseException) -> str:
    """``ClassName: message``, cut to ``MAX_EXCEPTION_CHARS``."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_EXCEPTION_CHARS else text[: MAX_EXCEPTION_CHARS - 3] + "..."


class ExperimentLog:
    """The run's log: appended to ``experiment.log`` line by line and copied into every zip."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, message: str) -> None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {message}\n")

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path.exists() else ""


def resumed_samples(config: ExperimentConfig) -> list[dict]:
    """Every finished sample in ``result_dir`` (zip and journal; none when it holds no result).

    ``ResumeMismatch`` when either is unreadable or holds another experiment; nothing is changed.
    """
    try:
        previous, samples = load_samples(config.result_zip, config.journal_path, config.identity())
    except (ResultZipError, JournalMismatch) as error:
        raise ResumeMismatch(f"cannot resume from {config.result_dir}: {error}") from None
    if previous is not None:
        for key, value in config.identity().items():
            if previous["search_params"].get(key) != value:
                raise ResumeMismatch(
                    f"{config.result_zip} holds another experiment ({key}: "
                    f"{previous['search_params'].get(key)!r} != {value!r}); use an empty result_dir"
                )
    return samples


def initial_metadata(config: ExperimentConfig, spec, dataset_features: dict) -> dict:
    """The zip's content but its samples, while the search runs."""
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "error",
        "error": "the run has not finished",
        "search_params": config.search_params(),
        "environment": environment_info(spec),
        "dataset_features": dataset_features,
    }


def evaluate_sample(spec, split: DataSplit, config: ExperimentConfig, source: str, hyperparameters: dict,
                    sample_number: int) -> dict:
    """Fit one configuration and evaluate it on validation and test; exceptions are recorded."""
    record = {
        "sample_number": sample_number,
        "hyperparameters_source": source,
        "hyperparameters": hyperparameters,
        "time_on_train": None,
        "time_on_validation": None,
        "time_on_test": None,
        "time_on_ranking": None,
        "result_on_validation": None,
        "result_on_test": None,
        "exception": None,
    }
    random.seed(config.alg_seed)
    np.random.seed(config.alg_seed)
    try:
        start = time.perf_counter()
        model = spec.recommender_class(seed=config.alg_seed)
        if spec.early_stopping:
            stopping = {"validation_metric": early_stopping_metric(split.URM_validation, config.exclude_seen,
                                                                config.ndcg_gain)}
        else:
            stopping = {}
        model.fit(split.URM_train, **spec.fit_args, **stopping, **hyperparameters)
        if hasattr(model, "history_"):
            record["training"] = {"epochs_run": model.history_.epochs_run, "best_epoch": model.history_.best_epoch}
        record["time_on_train"] = time.perf_counter() - start
        evaluator = SharedRankingEvaluator({"validation": split.URM_validation, "test": split.URM_test},
                                           cutoffs=DEFAULT_CUTOFFS, exclude_seen=config.exclude_seen,
                                           ndcg_gain=config.ndcg_gain)
        results = evaluator.evaluate(model)
        record["time_on_ranking"] = evaluator.ranking_seconds_
        for part, result in results.items():
            record[f"time_on_{part}"] = evaluator.seconds_[part]
            record[f"result_on_{part}"] = {str(cutoff): metrics for cutoff, metrics in result.items()}
    except Exception as error:  # a failing sample is data: record it and go on
        record["exception"] = describe_exception(error)
    return record


def run_search(config: ExperimentConfig, split: DataSplit, dataset_features: dict) -> None:
    """Run (or resume) the search, recording each sample as it finishes.

    ``search_params.num_samples`` records the search's true size: the configurations it
    covers (fewer than asked when the space holds fewer), or the samples already
    finished when a resumed search held more.
    """
    log = ExperimentLog(config.log_path)
    spec = get_algorithm(config.alg_name)
    metadata = initial_metadata(config, spec, dataset_features)
    resumed = resumed_samples(config)
    done = {sample["sample_number"]: sample["hyperparameters"] for sample in resumed}
    configurations = spec.sample_hyperparameters(config.num_samples, config.param_seed)
    metadata["search_params"]["num_samples"] = max(len(configurations), max(done, default=-1) + 1)
    log.write(f"{config.alg_name} on {config.dataset_name}/{config.split_name}: {len(configurations)} samples, "
              f"{len(done)} already finished")
    writer = ResultWriter(config.result_dir, metadata, resumed, config.identity(), log.text)
    del resumed
    writer.flush()
    with limited_threads():
        for number, (source, hyperparameters) in enumerate(configurations):
            if number in done:
                if done[number] != hyperparameters:
                    raise ResumeMismatch(f"sample {number} in {config.result_dir} has other hyperparameters")
                continue
            log.write(f"sample {number} ({source}): {hyperparameters}")
            record = evaluate_sample(spec, split, config, source, hyperparameters, number)
            writer.add(record)  # recorded (journal) before the log says it is done
            log.write(f"sample {number} done in {record['time_on_train'] or 0:.2f} s fit"
                      + (f"; epochs {record['training']}" if "training" in record else "")
                      + (f"; exception {record['exception']}" if record["exception"] else ""))
    metadata["status"] = "complete"
    metadata.pop("error")
    log.write("search complete")
    writer.flush()


def finish_interrupted(config: ExperimentConfig, status: str, error: str | None) -> dict | None:
    """Set the final status of a search that did not complete (time limit or crash), folding the
    journal into the zip; ``None`` when the search wrote no zip."""
    metadata, samples = load_samples(config.result_zip, config.journal_path, config.identity())
    if metadata is None:
        return None
    metadata["samples"] = samples
    metadata["status"] = status
    if error is None:
        metadata.pop("error", None)
    else:
        metadata["error"] = error
    log = ExperimentLog(config.log_path)
    log.write(f"stopped: {status}" + (f" ({error})" if error else ""))
    write_result_zip(config.result_zip, metadata, log.text())
    config.journal_path.unlink(missing_ok=True)
    return metadata
