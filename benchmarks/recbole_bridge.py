"""Trains a RecBole model on our split, for ``bench_neural.py`` (RecBole is a benchmark-only extra).

The split is written as RecBole atomic files (``<name>.train.inter`` / ``.valid.inter`` /
``.test.inter``, the test part doubling as validation, which is never used: no early stopping)
and RecBole's own trainer runs ``epochs`` epochs; its full-ranking NDCG@10 is reported.
"""

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
        return {"mlp_hidden_size": [600], "latent_dimension": 200, "dropout_prob": 0.5, "anneal_cap": 0.2,
                "total_anneal_steps": ours["total_anneal_steps"], "learning_rate": ours["lr"], "weight_decay": 0.0,
                "train_neg_sample_args": None}
    if model_name == "SpectralCF":
        return {"embedding_size": ours["embedding_size"], "n_layers": ours["k"], "reg_weight": ours["decay"],
                "learning_rate": ours["learning_rate"]}
    raise ValueError(f"no RecBole counterpart for {model_name}")


def _shims_for_recbole() -> None:
    """RecBole 1.2.1 predates NumPy 2 and SciPy 1.12: it re-creates aliases NumPy 2 removed
    (``np.float = np.float_``) and its SpectralCF calls ``dok_matrix._update``, which SciPy
    removed. Give it those names (the NumPy 2 equivalents; an item-by-item update)."""
    for old, new in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if old not in np.__dict__:
            setattr(np, old, new)
    if not hasattr(sp.dok_matrix, "_update"):
        def _update(matrix, entries):
            for key, value in entries.items():
                matrix[key] = value

        sp.dok_matrix._update = _update


def train_recbole(model_name: str, URM_train: sp.csr_matrix, URM_test: sp.csr_matrix, ours: dict, epochs: int) -> dict:
    _shims_for_recbole()
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    with tempfile.TemporaryDirectory() as root:
        folder = Path(root, "bench")
        folder.mkdir()
        for part, matrix in (("train", URM_train), ("valid", URM_test), ("test", URM_test)):
            _write_inter(folder / f"bench.{part}.inter", matrix)
        config = Config(model=model_name, dataset="bench", config_dict={
            "data_path": root, "benchmark_filename": ["train", "valid", "test"], "load_col": None,
            "epochs": epochs, "train_batch_size": ours["batch_size"], "eval_step": epochs + 1, "stopping_step": epochs,
            "metrics": ["NDCG"], "topk": [10], "valid_metric": "NDCG@10", "device": "cpu", "use_gpu": False,
            "seed": 0, "reproducibility": True, "show_progress": False, "checkpoint_dir": root, "save_dataset": False,
            "log_wandb": False, "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
            **_settings(model_name, ours)})
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train_data, _, test_data = data_preparation(config, dataset)
        model = get_model(config["model"])(config, train_data.dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        batches = len(train_data)
        start = time.perf_counter()
        trainer.fit(train_data, None, saved=False, show_progress=False)
        seconds = time.perf_counter() - start
        result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    return {"epoch_s": seconds / epochs, "batch_s": seconds / (epochs * batches), "ndcg_10": float(result["ndcg@10"])}
