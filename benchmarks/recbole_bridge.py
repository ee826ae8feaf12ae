"""Trains a RecBole model on our split, for ``bench_neural.py`` (RecBole is a benchmark-only extra).

The split is written as RecBole atomic files (``<name>.train.inter`` / ``.valid.inter`` /
``.test.inter``, the test part doubling as validation, which is never used: no early stopping)
in a temporary folder, the working directory meanwhile (RecBole's trainer writes
``log_tensorboard/`` into it).
RecBole's own trainer step (``Trainer._train_epoch``, fed a given number of its batches) trains
for exactly as many batches as our model did, and its full-ranking NDCG@10 (training items
excluded) is reported.

Settings matching ours (``_settings``): Mult-VAE's encoder 600 -> 2 x 200 (RecBole's
``latent_dimension`` is the encoder's output, mean and log-variance, so 400 for a 200-dim
latent), decoder 200 -> 600, dropout 0.5, anneal cap 0.2, Adam; SpectralCF's embedding size,
layers, regularisation and RMSProp. Known differences of RecBole's models: MultiVAE samples
``z`` with noise of standard deviation 0.01 (times sigma) and starts Xavier-normal; SpectralCF
builds its graph without self-loops and starts its embeddings Xavier-uniform.
"""

import contextlib
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def _write_inter(path: Path, URM: sp.csr_matrix) -> None:
    coo = URM.tocoo()
    order = np.lexsort((coo.col, coo.row))
    lines = [f"u{u}\ti{i}\t{r:g}\n" for u, i, r in zip(coo.row[order], coo.col[order], coo.data[order])]
    path.write_text("user_id:token\titem_id:token\trating:float\n" + "".join(lines))


def _settings(model_name: str, ours: dict) -> dict:
    if model_name == "MultiVAE":
        return {"mlp_hidden_size": [600], "latent_dimension": 400, "dropout_prob": 0.5, "anneal_cap": 0.2,
                "total_anneal_steps": ours["total_anneal_steps"], "learning_rate": ours["lr"], "weight_decay": 0.0,
                "learner": "adam", "train_neg_sample_args": None}
    if model_name == "SpectralCF":
        return {"embedding_size": ours["embedding_size"], "n_layers": ours["k"], "reg_weight": ours["decay"],
                "learning_rate": ours["learning_rate"], "learner": "rmsprop"}
    raise ValueError(f"no RecBole counterpart for {model_name}")


def _shims_for_recbole() -> None:
    """RecBole 1.2.1 predates NumPy 2 and SciPy 1.12: it re-creates aliases NumPy 2 removed
    (``np.float = np.float_``) and its SpectralCF calls ``dok_matrix._update``, an unchecked
    ``dict.update`` of the entries, which SciPy removed. Give it those names (the NumPy 2
    equivalents; the same update of SciPy's entry dictionary ``_dict``)."""
    for old, new in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if old not in np.__dict__:
            setattr(np, old, new)
    if not hasattr(sp.dok_matrix, "_update"):
        def _update(matrix, entries):
            matrix._dict.update(entries)

        sp.dok_matrix._update = _update


def train_recbole(model_name: str, URM_train: sp.csr_matrix, URM_test: sp.csr_matrix, ours: dict, batches: int,
                  evaluate: bool) -> dict:
    """Train RecBole's ``model_name`` for ``batches`` of its batches (passes over its training
    data, the last one cut). Returns ``batch_s`` (seconds per batch: all of them when
    ``evaluate``, else those after the first), ``epoch_s`` (``batch_s`` times the batches of one
    pass), the same in CPU seconds (``cpu_batch_s``, ``cpu_epoch_s``), ``batches_per_epoch``,
    ``setup_s`` and, when ``evaluate``, ``ndcg_10``."""
    _shims_for_recbole()
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as root, contextlib.chdir(root):
        folder = Path(root, "bench")
        folder.mkdir()
        for part, matrix in (("train", URM_train), ("valid", URM_test), ("test", URM_test)):
            _write_inter(folder / f"bench.{part}.inter", matrix)
        config = Config(model=model_name, dataset="bench", config_dict={
            "data_path": root, "benchmark_filename": ["train", "valid", "test"], "load_col": None,
            "train_batch_size": ours["batch_size"], "metrics": ["NDCG"], "topk": [10], "valid_metric": "NDCG@10",
            "device": "cpu", "use_gpu": False, "seed": 0, "reproducibility": True, "show_progress": False,
            "checkpoint_dir": root, "save_dataset": False, "log_wandb": False,
            "eval_args": {"group_by": "user", "order": "RO", "mode": "full"}, **_settings(model_name, ours)})
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train_data, _, test_data = data_preparation(config, dataset)
        model = get_model(config["model"])(config, train_data.dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        per_pass = len(train_data)
        setup = time.perf_counter() - start
        timed, left, epoch = batches, batches, 0
        if not evaluate:  # a first batch warms up, uncounted, as our side's first step
            trainer._train_epoch(itertools.islice(train_data, 1), epoch)
            epoch += 1
        start, cpu_start = time.perf_counter(), time.process_time()
        while left:
            trainer._train_epoch(itertools.islice(train_data, min(left, per_pass)), epoch)
            left, epoch = left - min(left, per_pass), epoch + 1
        batch_s, cpu_batch_s = (time.perf_counter() - start) / timed, (time.process_time() - cpu_start) / timed
        result = {"batch_s": batch_s, "epoch_s": batch_s * per_pass, "cpu_batch_s": cpu_batch_s,
                  "cpu_epoch_s": cpu_batch_s * per_pass, "batches_per_epoch": per_pass, "setup_s": setup}
        if evaluate:
            trainer.eval_collector.data_collect(train_data)
            metrics = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
            result["ndcg_10"] = float(metrics["ndcg@10"])
    return result
