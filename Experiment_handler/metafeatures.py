"""The 383 dataset meta-features of a split's training matrix, cached in the split folder.

Names and definitions follow the reference's ``Metafeatures/`` package:

- 5 basic features (``n_u`` users, ``n_i`` items, ``nnz`` stored interactions):
  ``f_num_users = n_u``, ``f_num_items = n_i``, ``f_num_interactions = nnz``,
  ``f_sparsity = 1 - nnz / (n_u n_i)``, ``f_item_user_ratio = n_i / n_u``;
- 70 distribution features (``Experiment_handler.metafeatures_distribution``);
- 308 landmarkers (``Experiment_handler.landmarkers``).

``load_or_compute_metafeatures(split_dir)`` computes them once per split folder
and caches them in ``split_dir/metafeatures.json`` (written atomically), tagged
with the split's checksum, the landmarker seed, the landmarkers' NDCG gain (from
``split.json``'s ``value_kind``) and the list of names: a cache
that does not match the current split and code is recomputed. A split folder that
cannot be written (a shared, read-only dataset) still works: the features are
computed without caching, with one warning line on stderr.

    python -m Experiment_handler.metafeatures SPLIT_DIR

prints them as a JSON object, in the order above.
"""

import argparse
import json
import sys
from pathlib import Path

import scipy.sparse as sp

from Data_manager.atomic_files import write_json_atomic
from Data_manager.cli_errors import run_cli
from Data_manager.split_format import SplitFormatError, load_split, read_split_info, split_checksum
from Data_manager.version import __version__
from Experiment_handler.landmarkers import LANDMARKER_SEED, landmarker_feature_names, landmarker_features
from Experiment_handler.metafeatures_distribution import distribution_feature_names, distribution_features
from Experiment_handler.metrics import ndcg_gain_for
from Recommenders.base import as_csr_float32

CACHE_FILE = "metafeatures.json"
CACHE_SCHEMA_VERSION = 1
BASIC_FEATURE_NAMES = ("f_num_users", "f_num_items", "f_num_interactions", "f_sparsity", "f_item_user_ratio")


def basic_features(URM: sp.csr_matrix) -> dict[str, float]:
    """The 5 basic features of ``URM``."""
    n_users, n_items = URM.shape
    return {
        "f_num_users": n_users,
        "f_num_items": n_items,
        "f_num_interactions": URM.nnz,
        "f_sparsity": 1 - URM.nnz / (n_users * n_items),
        "f_item_user_ratio": n_items / n_users,
    }


def metafeature_names() -> list[str]:
    """All 383 names: basic, then distribution, then landmarker features."""
    return [*BASIC_FEATURE_NAMES, *distribution_feature_names(), *landmarker_feature_names()]


def compute_metafeatures(URM_train: sp.csr_matrix, seed: int = LANDMARKER_SEED,
                         ndcg_gain: str = "exponential") -> dict[str, float]:
    """Every meta-feature of a training matrix, in ``metafeature_names()`` order."""
    URM = as_csr_float32(URM_train)
    return {**basic_features(URM), **distribution_features(URM), **landmarker_features(URM, seed, ndcg_gain)}


def _cached(path: Path, expected: dict) -> dict[str, float] | None:
    """The cached features when ``path`` holds them for ``expected``'s split, seed and names."""
    try:
        cache = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(cache, dict) or any(cache.get(key) != value for key, value in expected.items()):
        return None
    features, names = cache.get("features"), metafeature_names()
    if not isinstance(features, dict) or set(features) != set(names):
        return None
    return {name: features[name] for name in names}


def load_or_compute_metafeatures(split_dir, seed: int = LANDMARKER_SEED) -> dict[str, float]:
    """The split's meta-features, read from its cache when valid, computed (and cached) otherwise."""
    split_dir = Path(split_dir)
    info = read_split_info(split_dir)
    expected = {
        "schema_version": CACHE_SCHEMA_VERSION,
        "split_checksum": split_checksum(info),
        "landmarker_seed": seed,
        "ndcg_gain": ndcg_gain_for(info.get("value_kind")),
    }
    features = _cached(split_dir / CACHE_FILE, expected)
    if features is None:
        features = compute_metafeatures(load_split(split_dir).URM_train, seed, expected["ndcg_gain"])
        try:
            write_json_atomic(split_dir / CACHE_FILE,
                              {**expected, "package_version": __version__, "features": features})
        except OSError as error:
            print(f"warning: cannot cache the meta-features in {split_dir} ({error.strerror}); "
                  "computed without caching", file=sys.stderr)
    return features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m Experiment_handler.metafeatures",
        description="Print the 383 meta-features of a split's training matrix (cached in the split folder).",
    )
    parser.add_argument("split_dir", help="split folder holding split.json and URM_train.npz")
    args = parser.parse_args(argv)
    print(json.dumps(load_or_compute_metafeatures(args.split_dir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, errors=(SplitFormatError,)))
