"""Benchmark: fit and evaluation seconds and peak RSS of each algorithm, plus baselines.

Data: ``SyntheticLarge`` (Data_manager.synthetic: 20,000 users x 8,000 items x ~1,000,000
interactions), 20% of the interactions held out at random (seeded) as the test set.
Each algorithm runs at its registry default and at a large configuration (``ENTRIES``:
``topK=1000`` where the model has one), each in a fresh subprocess (clean peak RSS):
fit seconds, ``Evaluator`` seconds (every metric, 15 cutoffs, all test users) and peak RSS.

Baselines, measured in the same run with the same threads:

- similarities vs ``similaripy`` (when installed): our engine against its cosine, jaccard,
  dice, tversky, asymmetric cosine, p3alpha and rp3beta with the same ``k`` and shrink;
- EASE-R vs a plain numpy float32 Cholesky inverse of the same Gram matrix (binarised data);
- PureSVD vs ``sklearn.utils.extmath.randomized_svd`` on the same matrix.
- IALS vs ``implicit``'s CG ALS and BPR-MF vs its BPR (when installed): same factors,
  iterations and threads; BPR per epoch and per sample (our epoch is ``n_users`` samples,
  as in the reference; theirs is ``nnz``).

Iterative models also get a table of seconds per epoch over a few epochs.

SLIM ElasticNet (``--slim``): our kernel's fit against the scikit-learn per-item loop
(the previous implementation and the reference's solver: ``ElasticNet`` per item,
``selection="random"``, ``tol=1e-4``, ``max_iter=100``) at ``topK`` 100 and 1000
(``alpha=1e-3``, ``l1_ratio=0.1``), 1 and 2 threads: fit wall and CPU seconds, peak
RSS and the load average. The scikit-learn loop is timed on ``--slim-items`` evenly
spaced items and projected to all items. ``--slim-large`` also times our fit on a
MovieLens-20M-sized synthetic split (138,000 x 27,000 x 20,000,000; peak ~3.4 GiB), or
with ``--slim-large-items N`` only N of its items (per-item wall and CPU seconds,
projected).

Shared ranking (``--samples``): a whole sample (fit + validation + test) of ItemKNN
cosine, EASE-R, PureSVD and TopPop, evaluating validation and test separately (two
``Evaluator`` runs, as before) and from one ranking (``SharedRankingEvaluator``),
wall and CPU seconds of the evaluation. ``--samples-before DIR`` also measures, with this
script, the separate evaluation of the code of another checkout (kernels built; e.g.
``git archive`` of an older commit and ``python setup.py build_ext --inplace``).

    python benchmarks/bench_algorithms.py [--algorithms A B ...] [--configs default large]
        [--threads N] [--skip-algorithms] [--skip-baselines] [--slim] [--samples]
        [--samples-before DIR]

To benchmark another algorithm, append a ``BenchEntry`` to ``ENTRIES``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

#: A child measures the code of the checkout this names (``--samples-before``), else this one's.
CODE_ENV = "RECZILLA_BENCH_CODE"
sys.path.insert(0, os.environ.get(CODE_ENV) or str(Path(__file__).resolve().parent.parent))

from Data_manager.synthetic import SYNTHETIC_CONFIGS, generate_synthetic  # noqa: E402
from Recommenders.registry import get_algorithm  # noqa: E402
from Recommenders.threads import configured_threads, limited_threads  # noqa: E402


@dataclass(frozen=True)
class BenchEntry:
    """One algorithm of the benchmark: its registry name and the overrides of its large configuration."""

    name: str
    large: dict = field(default_factory=dict)


_TOP_K_1000 = {"topK": 1000}
ENTRIES = [
    *(BenchEntry(f"{kind}_{similarity}", _TOP_K_1000) for kind in ("ItemKNNCF", "UserKNNCF")
      for similarity in ("cosine", "jaccard", "dice", "tversky", "asymmetric", "euclidean")),
    BenchEntry("P3alphaRecommender", _TOP_K_1000),
    BenchEntry("RP3betaRecommender", _TOP_K_1000),
    BenchEntry("EASE_R_Recommender"),
    BenchEntry("SLIMElasticNetRecommender", _TOP_K_1000),
    BenchEntry("PureSVDRecommender", {"num_factors": 350}),
    BenchEntry("NMFRecommender", {"num_factors": 100, "solver": "multiplicative_update"}),
    BenchEntry("MatrixFactorization_FunkSVD_Cython", {"num_factors": 64}),
    BenchEntry("MatrixFactorization_AsySVD_Cython"),
    BenchEntry("MatrixFactorization_BPR_Cython", {"num_factors": 200, "sgd_mode": "adam"}),
    BenchEntry("IALSRecommender", {"num_factors": 200}),
    BenchEntry("SLIM_BPR_Cython", {"topK": 1000, "symmetric": False}),
    BenchEntry("SlopeOne"),
    BenchEntry("CoClustering", {"n_cltr_u": 1000, "n_cltr_i": 100}),
]

#: Seconds one subprocess may run before it is reported as a timeout.
CHILD_TIMEOUT = 900
#: The whole SLIM fit on the MovieLens-20M-sized split (the aim is 30 minutes at 2 threads).
SLIM_LARGE_TIMEOUT = 3 * 3600


def benchmark_split(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """SyntheticLarge with 20% of its interactions held out at random.

    Made once and cached as ``.npz`` files in the temporary folder (written atomically),
    so that each measuring subprocess only loads it: its peak RSS is then the model's,
    not the generator's.
    """
    folder = Path(tempfile.gettempdir()) / f"reczilla_bench_{SYNTHETIC_CONFIGS['SyntheticLarge'].seed}_{seed}"
    paths = {part: folder / f"URM_{part}.npz" for part in ("train", "test")}
    if not all(path.exists() for path in paths.values()):
        URM = generate_synthetic("SyntheticLarge").URM_all.tocoo()
        held_out = np.random.default_rng(seed).random(URM.nnz) < 0.2
        folder.mkdir(exist_ok=True)
        for part, mask in (("train", ~held_out), ("test", held_out)):
            matrix = sp.csr_matrix((URM.data[mask], (URM.row[mask], URM.col[mask])), shape=URM.shape,
                                   dtype=np.float32)
            partial = folder / f".{part}.{os.getpid()}.npz"
            sp.save_npz(partial, matrix)
            os.replace(partial, paths[part])
    return tuple(sp.load_npz(paths[part]).tocsr() for part in ("train", "test"))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def configuration(entry: BenchEntry, config: str) -> dict:
    spec = get_algorithm(entry.name)
    hyperparameters = dict(spec.space.default)
    if config == "large":
        hyperparameters.update(entry.large)
    return hyperparameters


def measure_algorithm(name: str, config: str) -> dict:
    """Fit + evaluate one configuration in this process."""
    from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator

    entry = next(e for e in ENTRIES if e.name == name)
    spec = get_algorithm(name)
    hyperparameters = configuration(entry, config)
    URM_train, URM_test = benchmark_split()
    rss_data = peak_rss_mib()
    with limited_threads():
        model = spec.recommender_class(seed=0)
        start = time.perf_counter()
        model.fit(URM_train, **spec.fit_args, **hyperparameters)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        results = Evaluator(URM_test, cutoffs=DEFAULT_CUTOFFS).evaluate(model)
        eval_seconds = time.perf_counter() - start
    return {"fit_s": fit_seconds, "eval_s": eval_seconds, "peak_rss_mib": peak_rss_mib(), "data_rss_mib": rss_data,
            "ndcg_10": results[10]["NDCG"], "hyperparameters": hyperparameters}


# ---- baselines: (label, ours, theirs); each callable takes (URM_train, k, shrink, threads) ----

def _ours_similarity(similarity, **params):
    from Recommenders.similarity import compute_similarity
    return lambda URM, k, shrink, threads: compute_similarity(URM, similarity, topK=k, shrink=shrink, **params)


def _ours_random_walk(beta):
    from Recommenders.graph import random_walk_similarity
    return lambda URM, k, shrink, threads: random_walk_similarity(URM, k, 1.0, beta, False)


def _similaripy(function, **params):
    def run(URM, k, shrink, threads):
        import similaripy
        items_by_users = sp.csr_matrix(URM.T)
        extra = {} if function in ("p3alpha", "rp3beta") else {"shrink": shrink, "shrink_type": "additive"}
        return getattr(similaripy, function)(items_by_users, k=k, verbose=False, format_output="csr",
                                             num_threads=threads, **extra, **params)
    return run


SIMILARITY_BASELINES = [
    ("cosine", _ours_similarity("cosine"), _similaripy("cosine")),
    ("jaccard", _ours_similarity("jaccard"), _similaripy("jaccard", binary=True)),
    ("dice", _ours_similarity("dice"), _similaripy("dice", binary=True)),
    ("tversky", _ours_similarity("tversky", tversky_alpha=0.7, tversky_beta=1.3),
     _similaripy("tversky", alpha=0.7, beta=1.3, binary=True)),
    ("asymmetric", _ours_similarity("asymmetric", asymmetric_alpha=0.3), _similaripy("asymmetric_cosine", alpha=0.3)),
    ("p3alpha", _ours_random_walk(None), _similaripy("p3alpha", alpha=1.0)),
    ("rp3beta", _ours_random_walk(0.6), _similaripy("rp3beta", alpha=1.0, beta=0.6)),
]


def best_of(functions: dict, repeats: int) -> dict:
    """Minimum seconds of each zero-argument function over ``repeats`` interleaved rounds."""
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure_similarity(label: str, k: int, shrink: float, repeats: int) -> dict:
    """Seconds of our similarity and (when installed) similaripy's on the same matrix."""
    _, ours, theirs = next(b for b in SIMILARITY_BASELINES if b[0] == label)
    URM_train, _ = benchmark_split()
    threads = configured_threads()
    functions = {"ours": lambda: ours(URM_train, k, shrink, threads)}
    try:
        import similaripy  # noqa: F401
        functions["similaripy"] = lambda: theirs(URM_train, k, shrink, threads)
    except ImportError:
        pass
    return best_of(functions, repeats)


def measure_ease_baseline(repeats: int) -> dict:
    """EASE-R fit, our inverse alone, numpy's float32 Cholesky inverse (``cholesky``, ``inv`` of the
    factor, product) and numpy's ``inv`` (LU, the reference's) of the same Gram matrix, on the
    binarised training matrix (on ratings the reference's Gram is indefinite: no Cholesky)."""
    from Recommenders.ease_r import EASE_R_Recommender, _symmetric_inverse
    from Recommenders.matrix_products import gram_matrix

    URM_train, _ = benchmark_split()
    URM_train.data[:] = 1.0
    G = gram_matrix(URM_train)
    G[np.diag_indices_from(G)] = np.bincount(URM_train.indices, minlength=G.shape[0]) + 1e3

    def cholesky_inverse():
        L_inv = np.linalg.inv(np.linalg.cholesky(G))
        return L_inv.T @ L_inv

    with limited_threads():
        return best_of({
            "ease_fit": lambda: EASE_R_Recommender().fit(URM_train, l2_norm=1e3),
            "our_inverse": lambda: _symmetric_inverse(G.copy()),
            "numpy_cholesky_inverse": cholesky_inverse,
            "numpy_inv": lambda: np.linalg.inv(G),
        }, repeats)


def measure_svd_baseline(num_factors: int, repeats: int) -> dict:
    """PureSVD fit against a bare ``randomized_svd`` call on the same matrix."""
    from sklearn.utils.extmath import randomized_svd

    from Recommenders.pure_svd import PureSVDRecommender

    URM_train, _ = benchmark_split()
    with limited_threads():
        return best_of({
            "puresvd_fit": lambda: PureSVDRecommender(seed=0).fit(URM_train, num_factors=num_factors),
            "randomized_svd": lambda: randomized_svd(URM_train, n_components=num_factors, random_state=0),
        }, repeats)


# ---- iterative models (SGD, ALS, co-clustering): seconds per epoch, and the ``implicit`` baselines ----

#: Epochs timed per configuration in the per-epoch table (the full fits above use the registry's).
TIMED_EPOCHS = 3


def epoch_argument(name: str) -> str | None:
    """The fit argument that counts epochs (``None``: not an iterative model)."""
    return next((arg for arg in ("epochs", "n_epochs") if arg in get_algorithm(name).fit_args), None)


def measure_epochs(name: str, config: str) -> dict:
    """Seconds per epoch of one configuration over ``TIMED_EPOCHS`` epochs (median when recorded)."""
    entry = next(e for e in ENTRIES if e.name == name)
    spec = get_algorithm(name)
    epochs = epoch_argument(name)
    URM_train, _ = benchmark_split()
    with limited_threads():
        model = spec.recommender_class(seed=0)
        start = time.perf_counter()
        model.fit(URM_train, **{**spec.fit_args, **configuration(entry, config), epochs: TIMED_EPOCHS})
        seconds = time.perf_counter() - start
    per_epoch = getattr(model, "epoch_seconds_", None)
    return {"epoch_s": float(np.median(per_epoch)) if per_epoch else seconds / TIMED_EPOCHS,
            "registry_epochs": spec.fit_args[epochs]}


def measure_implicit_baselines(threads: int) -> dict:
    """Our IALS (64 factors, 15 epochs) and BPR-MF (64 factors, batch 1; as many samples as
    20 ``nnz``-sample epochs) against ``implicit``'s CG ALS and BPR (20 epochs) with the same
    factors, iterations and threads."""
    from threadpoolctl import threadpool_limits

    from Recommenders.ials import IALSRecommender
    from Recommenders.matrix_factorization import MatrixFactorization_BPR_Cython

    URM_train, _ = benchmark_split()
    result = {"nnz": URM_train.nnz, "n_users": URM_train.shape[0]}
    with limited_threads():
        model = IALSRecommender(seed=0)
        start = time.perf_counter()
        model.fit(URM_train, epochs=15, num_factors=64, alpha=1.0, reg=0.01)
        result["ours_als"] = time.perf_counter() - start
        model = MatrixFactorization_BPR_Cython(seed=0)
        epochs = -(-20 * URM_train.nnz // (URM_train.shape[0] + 1))  # as many samples as implicit's 20 epochs
        model.fit(URM_train, epochs=epochs, num_factors=64, batch_size=1, learning_rate=0.05)
        result["ours_bpr_epoch"] = float(np.mean(model.epoch_seconds_))
        result["ours_bpr_samples"] = URM_train.shape[0] + 1
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
    except ImportError:
        return result
    confidence = URM_train.copy()
    confidence.data = 1.0 + confidence.data  # our confidence with alpha = 1
    binary = URM_train.copy()
    binary.data[:] = 1.0
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.01, use_cg=True,
                                        calculate_training_loss=False, num_threads=threads, random_state=0)
        start = time.perf_counter()
        model.fit(confidence, show_progress=False)
        result["implicit_als"] = time.perf_counter() - start
        model = BayesianPersonalizedRanking(factors=64, iterations=20, learning_rate=0.05, num_threads=threads,
                                            random_state=0)
        start = time.perf_counter()
        model.fit(binary, show_progress=False)
        result["implicit_bpr_epoch"] = (time.perf_counter() - start) / 20
    return result


def report_epochs(names: list[str], configs: list[str], threads: int) -> None:
    rows = [(name, config) for name in names if epoch_argument(name) for config in configs
            if config == "default" or next(e for e in ENTRIES if e.name == name).large]
    if not rows:
        return
    print(f"| iterative model | config | s / epoch (median of {TIMED_EPOCHS}) | registry epochs | "
          "projected fit s |")
    print("|---|---|---:|---:|---:|")
    for name, config in rows:
        r = child(["epochs", name, config], threads)
        if "error" in r:
            print(f"| {name} | {config} | {r['error']} | | |", flush=True)
            continue
        print(f"| {name} | {config} | {r['epoch_s']:.3f} | {r['registry_epochs']} | "
              f"{r['epoch_s'] * r['registry_epochs']:.1f} |", flush=True)
    print()


def report_implicit_baselines(threads: int) -> None:
    r = child(["implicit"], threads)
    if "error" in r:
        print(f"\nimplicit baselines: {r['error']}")
        return
    print(f"\nIALS, 64 factors, 15 epochs, {threads} thread(s): ours {r['ours_als']:.2f} s", end="")
    print(f" vs implicit CG ALS {r['implicit_als']:.2f} s: ratio {r['ours_als'] / r['implicit_als']:.2f}"
          if "implicit_als" in r else " (implicit not installed)")
    ours_ns = r["ours_bpr_epoch"] / r["ours_bpr_samples"] * 1e9
    print(f"BPR-MF, 64 factors, batch 1: ours {r['ours_bpr_epoch']:.4f} s / epoch ({r['ours_bpr_samples']} samples, "
          f"{ours_ns:.0f} ns / sample)", end="")
    if "implicit_bpr_epoch" not in r:
        print(" (implicit not installed)")
        return
    theirs_ns = r["implicit_bpr_epoch"] / r["nnz"] * 1e9
    print(f" vs implicit {r['implicit_bpr_epoch']:.4f} s / epoch ({r['nnz']} samples, {theirs_ns:.0f} ns / sample): "
          f"ratio per epoch {r['ours_bpr_epoch'] / r['implicit_bpr_epoch']:.3f}, per sample {ours_ns / theirs_ns:.2f}")


def child(command: list[str], threads: int, script: str = __file__, timeout: float = CHILD_TIMEOUT,
          code: str | None = None) -> dict:
    """Run ``command`` (a ``--child`` invocation of ``script``, by default this one) in a fresh
    process with ``RECZILLA_THREADS=threads``, on the checkout ``code`` when given; its JSON result."""
    env = {**os.environ, "RECZILLA_THREADS": str(threads), **({CODE_ENV: str(Path(code).resolve())} if code else {})}
    try:
        done = subprocess.run([sys.executable, script, "--child", *command], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- SLIM ElasticNet: our kernel vs the scikit-learn per-item loop ----

SLIM_CONFIG = {"l1_ratio": 0.1, "alpha": 1e-3}


def sklearn_slim_seconds(URM_train: sp.csr_matrix, items: np.ndarray, top_k: int) -> float:
    """Seconds of the scikit-learn per-item loop (the reference's solver settings) on ``items``, in
    ``configured_threads()`` threads (scikit-learn's coordinate descent releases the GIL)."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet

    X = sp.csc_matrix(URM_train, dtype=np.float32)
    chunks = np.array_split(items, configured_threads())

    def solve(chunk):
        own = X.copy()
        model = ElasticNet(alpha=SLIM_CONFIG["alpha"], l1_ratio=SLIM_CONFIG["l1_ratio"], positive=True,
                           fit_intercept=False, copy_X=False, precompute=False, selection="random", max_iter=100,
                           tol=1e-4, random_state=0)
        for item in chunk:
            start, stop = own.indptr[item], own.indptr[item + 1]
            target = np.zeros(own.shape[0], dtype=np.float32)
            target[own.indices[start:stop]] = own.data[start:stop]
            saved = own.data[start:stop].copy()
            own.data[start:stop] = 0.0
            model.fit(own, target, check_input=False)
            own.data[start:stop] = saved
            np.argsort(-model.coef_)[:top_k]

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with ThreadPoolExecutor(len(chunks)) as pool:
            list(pool.map(solve, chunks))
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_slim(implementation: str, top_k: int, n_sample_items: int) -> dict:
    """Fit wall and CPU seconds (all items; scikit-learn: projected from ``n_sample_items``), peak RSS."""
    from Recommenders.slim_elastic_net import SLIMElasticNetRecommender

    URM_train, _ = benchmark_split()
    n_items = URM_train.shape[1]
    with limited_threads():
        cpu_start = cpu_seconds()
        if implementation == "ours":
            start = time.perf_counter()
            model = SLIMElasticNetRecommender().fit(URM_train, topK=top_k, **SLIM_CONFIG)
            seconds = time.perf_counter() - start
            scale = 1.0
            extra = {"converged": float(model.converged_.mean()), "mean_sweeps": float(model.sweeps_.mean())}
        else:
            items = np.linspace(0, n_items - 1, n_sample_items).astype(np.int64)
            scale = n_items / items.size
            seconds = sklearn_slim_seconds(URM_train, items, top_k) * scale
            extra = {"timed_items": int(items.size)}
        cpu_s = (cpu_seconds() - cpu_start) * scale
    return {"fit_s": seconds, "cpu_s": cpu_s, "peak_rss_mib": peak_rss_mib(), "load_1min": os.getloadavg()[0], **extra}


def measure_slim_large(n_items_timed: int) -> dict:
    """Our SLIM fit (default solver, topK 100, ``SLIM_CONFIG``) on a MovieLens-20M-sized synthetic split:
    all items, or the kernel on ``n_items_timed`` evenly spaced items (seconds projected to all)."""
    from Data_manager.synthetic import SyntheticConfig
    from Recommenders import _elastic_net, slim_elastic_net
    from Recommenders.matrix_products import csr_arrays, gram_matrix

    start = time.perf_counter()
    config = SyntheticConfig(n_users=138_000, n_items=27_000, n_interactions=20_000_000, seed=20)
    URM = generate_synthetic("MovieLens20MSized", config).URM_all
    generate_s = time.perf_counter() - start
    rss_data = peak_rss_mib()
    n_users, n_items = URM.shape
    with limited_threads():
        start, cpu_start = time.perf_counter(), cpu_seconds()
        if n_items_timed <= 0:
            model = slim_elastic_net.SLIMElasticNetRecommender().fit(URM, topK=100, **SLIM_CONFIG)
            gram_s, converged = float("nan"), float(model.converged_.mean())
        else:
            X = sp.csc_matrix(URM, dtype=np.float32)
            dense = gram_matrix(URM)
            gram_s = time.perf_counter() - start
            items = np.linspace(0, n_items - 1, n_items_timed).astype(np.int32)
            start, cpu_start = time.perf_counter(), cpu_seconds()
            result = _elastic_net.slim_elastic_net(
                *csr_arrays(X), n_users, dense, np.zeros(1, np.int64), np.zeros(0, np.int32),
                np.zeros(0, np.float32), np.diag(dense).astype(np.float64), items,
                n_users * SLIM_CONFIG["alpha"] * SLIM_CONFIG["l1_ratio"],
                n_users * SLIM_CONFIG["alpha"] * (1 - SLIM_CONFIG["l1_ratio"]), slim_elastic_net.TOL,
                slim_elastic_net.MAX_ITER, 100, min(n_items, slim_elastic_net.MAX_WORKING_SET),
                n_threads=configured_threads())
            converged = float(result[4].mean())
        seconds = time.perf_counter() - start
        cpu_s = cpu_seconds() - cpu_start
    per_item = seconds / (n_items if n_items_timed <= 0 else n_items_timed)
    return {"shape": [n_users, n_items, int(URM.nnz)], "generate_s": generate_s, "gram_s": gram_s,
            "solve_s": seconds, "solve_cpu_s": cpu_s, "per_item_s": per_item, "projected_fit_s": per_item * n_items
            + (0 if n_items_timed <= 0 else gram_s), "converged": converged, "data_rss_mib": rss_data,
            "peak_rss_mib": peak_rss_mib(), "load_1min": os.getloadavg()[0]}


# ---- a whole sample (fit + validation + test): separate evaluations vs one shared ranking ----

SAMPLE_ALGORITHMS = ["ItemKNNCF_cosine", "EASE_R_Recommender", "PureSVDRecommender", "TopPop"]


def measure_sample(name: str, mode: str) -> dict:
    """Fit + validation + test seconds of the registry default, the held-out 20% split in two halves."""
    from Experiment_handler.evaluator import DEFAULT_CUTOFFS, Evaluator, SharedRankingEvaluator

    URM_train, URM_held_out = benchmark_split()
    held_out = URM_held_out.tocoo()
    to_validation = np.random.default_rng(1).random(held_out.nnz) < 0.5
    validation, test = (sp.csr_matrix((held_out.data[m], (held_out.row[m], held_out.col[m])), shape=held_out.shape)
                        for m in (to_validation, ~to_validation))
    spec = get_algorithm(name)
    with limited_threads():
        start = time.perf_counter()
        model = spec.recommender_class(seed=0).fit(URM_train, **spec.fit_args, **spec.space.default)
        fit_s = time.perf_counter() - start
        start, start_cpu = time.perf_counter(), time.process_time()
        if mode == "separate":
            results = {part: Evaluator(URM, DEFAULT_CUTOFFS).evaluate(model)
                       for part, URM in (("validation", validation), ("test", test))}
        else:
            results = SharedRankingEvaluator({"validation": validation, "test": test}, DEFAULT_CUTOFFS).evaluate(model)
        evaluation_s, evaluation_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    return {"fit_s": fit_s, "evaluation_s": evaluation_s, "evaluation_cpu_s": evaluation_cpu_s,
            "test_ndcg_10": results["test"][10]["NDCG"]}


def report_slim(threads_list: list[int], n_sample_items: int) -> None:
    print("| SLIM ElasticNet (alpha 1e-3, l1_ratio 0.1) | threads | ours fit s (CPU s) | scikit-learn loop s "
          "(CPU s; projected) | ours / scikit-learn wall (CPU) | ours peak RSS MiB | scikit-learn peak RSS MiB "
          "| load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for top_k in (100, 1000):
        for threads in threads_list:
            ours = child(["slim", "ours", str(top_k), "0"], threads)
            theirs = child(["slim", "sklearn", str(top_k), str(n_sample_items)], threads)
            if "error" in ours or "error" in theirs:
                print(f"| topK {top_k} | {threads} | {ours.get('error', '')} | {theirs.get('error', '')} | | | | |")
                continue
            print(f"| topK {top_k} | {threads} | {ours['fit_s']:.1f} ({ours['cpu_s']:.1f}) | {theirs['fit_s']:.1f} "
                  f"({theirs['cpu_s']:.1f}; {theirs['timed_items']} items) | {ours['fit_s'] / theirs['fit_s']:.3f} "
                  f"({ours['cpu_s'] / theirs['cpu_s']:.3f}) | {ours['peak_rss_mib']:.0f} | "
                  f"{theirs['peak_rss_mib']:.0f} | {ours['load_1min']:.1f}, {theirs['load_1min']:.1f} |", flush=True)
    print()


def report_samples(threads: int, before: str | None) -> None:
    """Evaluation wall (CPU) seconds of a whole sample: separate evaluations and the shared ranking
    of this checkout, and separate evaluations of the checkout ``before`` when given."""
    print(f"{threads} thread(s); load average before: {os.getloadavg()[0]:.1f}")
    print("| whole sample (default config) | fit s | before: separate s | separate s | shared s "
          "| shared / before | shared / separate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    seconds = lambda r: f"{r['evaluation_s']:.2f} ({r['evaluation_cpu_s']:.2f})"  # noqa: E731
    for name in SAMPLE_ALGORITHMS:
        runs = {mode: child(["sample", name, mode], threads) for mode in ("separate", "shared")}
        if before:
            runs["before"] = child(["sample", name, "separate"], threads, code=before)
        errors = [f"{mode}: {r['error']}" for mode, r in runs.items() if "error" in r]
        if errors:
            print(f"| {name} | {'; '.join(errors)} | | | | | |", flush=True)
            continue
        separate, shared, old = runs["separate"], runs["shared"], runs.get("before")
        assert separate["test_ndcg_10"] == shared["test_ndcg_10"]
        ratio = lambda r: (f"{shared['evaluation_s'] / r['evaluation_s']:.2f} "  # noqa: E731
                           f"({shared['evaluation_cpu_s'] / r['evaluation_cpu_s']:.2f})")
        print(f"| {name} | {shared['fit_s']:.2f} | {seconds(old) if old else ''} | {seconds(separate)} "
              f"| {seconds(shared)} | {ratio(old) if old else ''} | {ratio(separate)} |", flush=True)
    print(f"(wall seconds and ratios, CPU in brackets; load average after: {os.getloadavg()[0]:.1f})\n")


def run_child(arguments: list[str]) -> dict:
    kind, *rest = arguments
    if kind == "algorithm":
        return measure_algorithm(rest[0], rest[1])
    if kind == "similarity":
        return measure_similarity(rest[0], int(rest[1]), float(rest[2]), int(rest[3]))
    if kind == "ease":
        return measure_ease_baseline(int(rest[0]))
    if kind == "svd":
        return measure_svd_baseline(int(rest[0]), int(rest[1]))
    if kind == "epochs":
        return measure_epochs(rest[0], rest[1])
    if kind == "implicit":
        return measure_implicit_baselines(int(os.environ["RECZILLA_THREADS"]))
    if kind == "slim":
        return measure_slim(rest[0], int(rest[1]), int(rest[2]))
    if kind == "slim-large":
        return measure_slim_large(int(rest[0]))
    if kind == "sample":
        return measure_sample(rest[0], rest[1])
    raise ValueError(f"unknown child measurement {kind!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", nargs="+", default=[e.name for e in ENTRIES])
    parser.add_argument("--configs", nargs="+", choices=["default", "large"], default=["default", "large"])
    parser.add_argument("--threads", type=int, default=configured_threads())
    parser.add_argument("--similarity-k", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--shrink", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="baselines: best of this many rounds")
    parser.add_argument("--ease-repeats", type=int, default=1, help="the EASE-R baseline (minutes a round)")
    parser.add_argument("--skip-algorithms", action="store_true")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--slim", action="store_true", help="SLIM ElasticNet: ours vs the scikit-learn loop")
    parser.add_argument("--slim-items", type=int, default=400, help="items timed of the scikit-learn loop")
    parser.add_argument("--slim-large", action="store_true", help="SLIM on a MovieLens-20M-sized split (~3.5 GiB)")
    parser.add_argument("--slim-large-items", type=int, default=0, help="time only this many of its items")
    parser.add_argument("--samples", action="store_true", help="whole samples: separate vs shared ranking")
    parser.add_argument("--samples-before", help="--samples: also the separate evaluation of this checkout")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child)))
        return
    unknown = set(args.algorithms) - {e.name for e in ENTRIES}
    if unknown:
        parser.error(f"not in ENTRIES: {', '.join(sorted(unknown))}")
    URM_train, URM_test = benchmark_split()
    if args.slim or args.samples or args.slim_large:
        if args.slim:
            report_slim(sorted({1, args.threads}), args.slim_items)
        if args.samples:
            report_samples(args.threads, args.samples_before)
        if args.slim_large:
            result = child(["slim-large", str(args.slim_large_items)], args.threads, timeout=SLIM_LARGE_TIMEOUT)
            print(json.dumps(result))
        return
    print(f"SyntheticLarge: {URM_train.shape[0]} users x {URM_train.shape[1]} items, train {URM_train.nnz}, "
          f"test {URM_test.nnz} interactions; {args.threads} thread(s)\n")
    if not args.skip_algorithms:
        print("| algorithm | config | fit s | eval s | peak RSS MiB | NDCG@10 | large overrides |")
        print("|---|---|---:|---:|---:|---:|---|")
        for name in args.algorithms:
            entry = next(e for e in ENTRIES if e.name == name)
            for config in args.configs:
                if config == "large" and not entry.large:
                    continue
                r = child(["algorithm", name, config], args.threads)
                if "error" in r:
                    print(f"| {name} | {config} | {r['error']} | | | | |", flush=True)
                    continue
                overrides = entry.large if config == "large" else ""
                print(f"| {name} | {config} | {r['fit_s']:.2f} | {r['eval_s']:.2f} | {r['peak_rss_mib']:.0f} "
                      f"| {r['ndcg_10']:.4f} | {overrides} |", flush=True)
        print(f"(RSS after loading the data alone: about {r.get('data_rss_mib', float('nan')):.0f} MiB)\n")
    if not args.skip_algorithms:
        report_epochs(args.algorithms, args.configs, args.threads)
    if args.skip_baselines:
        return
    print("| item similarity | k | shrink | ours s | similaripy s | ours / similaripy |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in SIMILARITY_BASELINES:
        for k in args.similarity_k:
            r = child(["similarity", label, str(k), str(args.shrink), str(args.repeats)], args.threads)
            if "error" in r:
                print(f"| {label} | {k} | {args.shrink:g} | {r['error']} | | |", flush=True)
                continue
            theirs = r.get("similaripy")
            ratio = f"{r['ours'] / theirs:.2f}" if theirs else "similaripy not installed"
            print(f"| {label} | {k} | {args.shrink:g} | {r['ours']:.3f} | "
                  f"{theirs if theirs is None else f'{theirs:.3f}'} | {ratio} |", flush=True)
    r = child(["ease", str(args.ease_repeats)], args.threads)
    if "error" not in r:
        cholesky = r["numpy_cholesky_inverse"]
        print(f"\nEASE-R (binarised data): fit {r['ease_fit']:.2f} s, its inverse alone {r['our_inverse']:.2f} s; "
              f"numpy float32 Cholesky inverse {cholesky:.2f} s, numpy inv (LU) {r['numpy_inv']:.2f} s; "
              f"fit / Cholesky {r['ease_fit'] / cholesky:.2f}, inverse / Cholesky {r['our_inverse'] / cholesky:.2f}")
    else:
        print(f"\nEASE-R baseline: {r['error']}")
    for num_factors in (10, 350):
        r = child(["svd", str(num_factors), str(args.repeats)], args.threads)
        if "error" not in r:
            print(f"PureSVD num_factors={num_factors}: fit {r['puresvd_fit']:.2f} s vs randomized_svd "
                  f"{r['randomized_svd']:.2f} s: ratio {r['puresvd_fit'] / r['randomized_svd']:.2f}")
        else:
            print(f"PureSVD baseline: {r['error']}")

    report_implicit_baselines(args.threads)

if __name__ == "__main__":
    main()
