"""Small meta-dataset tables for the meta-learner's tests, in process_inbox's column layout."""

import numpy as np
import pandas as pd

SPLIT = "DataSplitter_leave_k_out_last"
#: (alg_name, hyperparameters_source, hyperparameters) of the tiny table's configurations.
CONFIGS = (
    ("TopPop", "default", {}),
    ("ItemKNNCF_cosine", "default", {"topK": 5, "shrink": 50, "normalize": True, "feature_weighting": "none"}),
    ("ItemKNNCF_cosine", "random_0", {"topK": 100, "shrink": 10, "normalize": False, "feature_weighting": "BM25"}),
)


def table_row(dataset, config, precision, features, exception=None, time_on_train=1.0, alg_seed=0):
    alg, source, hyperparameters = config
    row = {"dataset_name": dataset, "split_name": SPLIT, "alg_name": alg, "alg_seed": alg_seed, "param_seed": 0,
           "hyperparameters_source": source, "exception": exception,
           "test_metric_PRECISION_cut_10": precision, "time_on_train": time_on_train}
    row.update({f"param_{name}": value for name, value in hyperparameters.items()})
    row.update(features)
    return row


def synthetic_table(feature_names, n_datasets=14, seed=0, families=("Movielens100K", "Movielens1M")) -> pd.DataFrame:
    """``n_datasets`` datasets (plus ``families``' two) whose best configuration depends on the features."""
    rng = np.random.default_rng(seed)
    names = [f"Toy{i:02d}" for i in range(n_datasets)] + list(families)
    rows = []
    for name in names:
        values = rng.normal(size=len(feature_names))
        features = dict(zip(feature_names, values))
        for k, config in enumerate(CONFIGS):
            precision = 0.2 + 0.1 * np.tanh(values[0] * (k - 1) + 0.5 * values[1] * (k == 2)) + 0.005 * rng.normal()
            rows.append(table_row(name, config, precision, features, time_on_train=1.0 + k + values[2] ** 2))
    return pd.DataFrame(rows)
