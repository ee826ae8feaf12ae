"""The seven PyTorch models: shapes, losses against hand formulas, training, early stopping, seeds, runs."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from Experiment_handler.result_zip import read_result_metadata  # noqa: E402
from Recommenders.memory import MemoryEstimateExceeded  # noqa: E402
from Recommenders.neural import delf, training  # noqa: E402
from Recommenders.neural.mf_bpr import MFBPR  # noqa: E402
from Recommenders.neural.mult_vae import MultVAE  # noqa: E402
from Recommenders.neural.neurec import NeuRec  # noqa: E402
from Recommenders.neural.sampling import NegativeSampler  # noqa: E402
from Recommenders.neural.spectral_cf import spectral_operator  # noqa: E402
from Recommenders.registry import ALGORITHMS  # noqa: E402
from tests.conftest import REPO_ROOT, run_module  # noqa: E402
from tests.recommender_checks import ndcg_at_10, planted_split, toppop_ndcg  # noqa: E402
from tests.test_run_experiment import check_contract, experiment_args  # noqa: E402

NEURAL = [name for name, spec in ALGORITHMS.items() if spec.extra == "neural"]
#: Per model, hyperparameters inside its space that learn the planted groups in a few epochs.
QUICK = {
    "INeuRec_RecommenderWrapper": ({"learning_rate": 0.01, "dropout_percentage": 0.0}, 8, 256),
    "UNeuRec_RecommenderWrapper": ({"learning_rate": 0.01, "dropout_percentage": 0.0}, 8, 256),
    "SpectralCF_RecommenderWrapper": ({"learning_rate": 0.01, "decay": 1e-5}, 200, 64),
    "Mult_VAE_RecommenderWrapper": ({}, 15, 16),
    "DELF_MLP_RecommenderWrapper": ({"learning_rate": 0.005}, 8, 8),
    "DELF_EF_RecommenderWrapper": ({"learning_rate": 0.005}, 8, 8),
    "MFBPR_Wrapper": ({"learning_rate": 0.1}, 15, 64),
}


def tiny():
    return planted_split(n_users=48, n_items=24, n_groups=3, seed=3)


def fit(name, URM, epochs, seed=0, **overrides):
    spec = ALGORITHMS[name]
    settings, _, batch_size = QUICK[name]
    arguments = {**spec.fit_args, **spec.space.default, **settings, "epochs": epochs, "batch_size": batch_size}
    return spec.recommender_class(seed=seed).fit(URM, **{**arguments, **overrides})


@pytest.fixture(scope="module", autouse=True)
def background_runs(request, tmp_path_factory):
    """The module's ``run_experiment`` processes, ``{key: (process, result folder)}``: per model,
    2 samples of at most 5 epochs on SyntheticSmall (``tests.neural_runs quick``), and under
    ``"cuda"`` one with ``RECZILLA_DEVICE=cuda`` (on a machine without a GPU). Only those a
    selected test reads, started together when the module's first test starts, so that they run
    alongside the in-process tests; ``finished`` waits for one."""
    wanted = {item.callspec.params["name"] for item in request.session.items
              if item.originalname == "test_runs_through_run_experiment"}
    if any(item.originalname == "test_gpu_request_without_gpu_is_a_usage_error" for item in request.session.items):
        wanted.add("cuda")
    if not wanted:
        yield {}
        return
    small_split, root = request.getfixturevalue("small_split"), tmp_path_factory.mktemp("runs")

    def start(folder, *module_args, env=None):
        command = [sys.executable, "-m", *map(str, module_args)]
        process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return process, folder

    runs = {name: start(root / name, "tests.neural_runs", "quick", 5,
                        *experiment_args(small_split, root / name, alg=name, samples=2, time_limit=300))
            for name in NEURAL if name in wanted}
    if "cuda" in wanted and not torch.cuda.is_available():
        runs["cuda"] = start(root / "cuda", "Experiment_handler.run_experiment",
                             *experiment_args(small_split, root / "cuda", alg="MFBPR_Wrapper"),
                             env={"RECZILLA_DEVICE": "cuda"})
    yield runs
    for process, _ in runs.values():
        if process.returncode is None:
            process.kill()
            process.communicate()


def finished(run: tuple) -> tuple:
    """``run`` of ``background_runs`` once its process has ended (``stderr_text`` set)."""
    process, _ = run
    if not hasattr(process, "stderr_text"):
        process.stderr_text = process.communicate(timeout=600)[1]
    return run


@pytest.mark.parametrize("name", NEURAL)
def test_shapes_losses_and_seeds(name):
    train, _ = tiny()
    epochs = 60 if name == "SpectralCF_RecommenderWrapper" else 6  # SpectralCF's epoch is one batch
    model = fit(name, train, epochs=epochs)
    scores = model.score([0, 5, 47])
    assert scores.shape == (3, 24) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert model.recommend([1, 2], cutoff=5).shape == (2, 5)
    losses = model.history_.losses
    assert model.history_.epochs_run == epochs == model.history_.best_epoch and len(losses) == epochs
    third = epochs // 3
    assert np.mean(losses[-third:]) < np.mean(losses[:third]), losses
    short = [fit(name, train, epochs=third, seed=seed).score([0, 5, 47]) for seed in (0, 0, 1)]
    assert np.array_equal(short[0], short[1]) and not np.array_equal(short[0], short[2])  # same seed, same scores


@pytest.mark.parametrize("name", NEURAL)
def test_beats_top_pop_on_planted_groups(name):
    train, test = planted_split(n_users=96, n_items=48, n_groups=4, seed=5)
    _, epochs, _ = QUICK[name]
    assert ndcg_at_10(fit(name, train, epochs=epochs), test) > 1.5 * toppop_ndcg(train, test)


def network(cls, URM, **options):
    torch.manual_seed(0)
    return cls(URM, device=torch.device("cpu"), rng=np.random.default_rng(0), **options)


def test_mult_vae_loss_is_the_annealed_elbo():
    train, _ = tiny()
    vae = network(MultVAE, train, total_anneal_steps=10, lam=0.01, lr=1e-3, batch_size=8, p_dims=[3, 5, 24]).eval()
    x = train[:4].toarray().astype(np.float64)
    w = [(layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
         for layer in [*vae.encoder, *vae.decoder]]
    h = x / np.linalg.norm(x, axis=1, keepdims=True)
    h = np.tanh(h @ w[0][0].T + w[0][1]) @ w[1][0].T + w[1][1]
    mu, logvar = h[:, :3], h[:, 3:]
    logits = np.tanh(mu @ w[2][0].T + w[2][1]) @ w[3][0].T + w[3][1]
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    kl = np.mean(np.sum(0.5 * (-logvar + np.exp(logvar) + mu**2 - 1), axis=1))
    expected = -np.mean(np.sum(log_softmax * x, axis=1)) + 0.3 * kl + 0.01 * sum((m**2).sum() for m, _ in w)
    assert vae.loss(torch.from_numpy(x).float(), anneal=0.3).item() == pytest.approx(expected, rel=1e-5)
    vae.update_count = 1
    assert vae.anneal() == pytest.approx(0.1)  # updates / total_anneal_steps
    vae.update_count = 5
    assert vae.anneal() == 0.2  # capped at anneal_cap


def test_mult_vae_step_is_adam_on_the_penalised_loss():
    """The optimiser's weight decay stands for the penalty's gradient: one step equals plain Adam
    on the loss with the penalty differentiated."""
    train, _ = tiny()
    options = dict(total_anneal_steps=10, lam=0.05, lr=1e-2, batch_size=8, p_dims=[3, 5, 24])
    ours, plain = network(MultVAE, train, **options).train(), network(MultVAE, train, **options).train()
    rows = torch.from_numpy(train[:8].toarray())
    adam = torch.optim.Adam(plain.parameters(), lr=1e-2)
    for _ in range(3):
        torch.manual_seed(1)
        loss = ours.train_step(rows)
        torch.manual_seed(1)  # the same dropout and sampling
        logits, kl = plain(rows)
        penalised = (-(torch.log_softmax(logits, dim=1) * rows).sum(dim=1).mean() + plain.anneal() * kl
                     + 0.05 * sum((w**2).sum() for w in plain.weights))
        adam.zero_grad()
        penalised.backward()
        adam.step()
        plain.update_count += 1
        assert loss == pytest.approx(penalised.item(), rel=1e-5)
    for mine, expected in zip(ours.parameters(), plain.parameters()):
        assert torch.allclose(mine, expected, atol=1e-6)
    assert not torch.allclose(ours.weights[0], network(MultVAE, train, **options).weights[0])  # it moved


def test_mf_bpr_loss_and_one_adagrad_step():
    train, _ = tiny()
    mf = network(MFBPR, train, embed_size=4, learning_rate=0.05, batch_size=4, negative_sample_per_positive=1,
                 regularization=0.01)
    P, Q = mf.user_factors.detach().double().numpy().copy(), mf.item_factors.detach().double().numpy().copy()
    u, i, j = np.array([0, 1]), np.array([2, 3]), np.array([5, 7])
    x = np.sum(P[u] * Q[i], axis=1) - np.sum(P[u] * Q[j], axis=1)
    expected = np.sum(np.log1p(np.exp(-x))) + 0.01 * (np.sum(P[u] ** 2) + np.sum(Q[i] ** 2) + np.sum(Q[j] ** 2))
    loss = mf.bpr_loss(*(torch.from_numpy(a) for a in (u, i, j)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    mf.optimizer.step()
    sigma = 1 / (1 + np.exp(x))  # d loss / d x = -sigma
    grad_p = -sigma[:, None] * (Q[i] - Q[j]) + 0.02 * P[u]
    expected_p = P[u] - 0.05 * grad_p / np.sqrt(0.1 + grad_p**2)  # Adagrad, accumulator from 0.1
    assert np.allclose(mf.user_factors.detach().numpy()[u], expected_p, atol=1e-6)
    assert np.array_equal(mf.user_factors.detach().numpy()[2:], P[2:].astype(np.float32))  # untouched rows


def test_delf_attention_matches_the_reference_formula():
    train, _ = tiny()
    for fusion, power in (("mlp", 0.5), ("ef", 1.0)):
        model = network(delf.DELF, train, fusion=fusion, learning_rate=1e-3, num_negatives=2, batch_size=4,
                        layers=(16, 8, 4), regularization_layers=(0, 0, 0), learner="adam")
        user_att, _ = model.attentive_embeddings()
        a = model.item_attention(model.item_embeddings).squeeze(1).detach().double().numpy()
        R = train.toarray().astype(np.float64)
        masked = np.where(R == 0, -np.inf, R * a + R - 1)  # the reference's mask: r * a + (r - 1)
        with np.errstate(invalid="ignore"):  # a user without training items: 0 / 0, the reference's 0
            weights = np.nan_to_num(np.exp(masked) / np.sum(np.exp(masked), axis=1, keepdims=True) ** power)
        expected = weights @ model.item_embeddings.detach().double().numpy()
        assert np.allclose(user_att.detach().numpy(), expected, rtol=1e-4, atol=1e-6), fusion


def test_delf_log_loss_gradient_is_the_same_in_chunks(monkeypatch):
    train, _ = tiny()
    model = network(delf.DELF, train, fusion="mlp", learning_rate=1e-3, num_negatives=2, batch_size=4,
                    layers=(16, 8, 4), regularization_layers=(0, 0, 0), learner="adam")
    users, items = np.array([0, 1, 2, 3, 4]), np.array([0, 5, 9, 1, 2])
    labels = np.array([1, 0, 1, 0, 0], dtype=np.float32)
    model.zero_grad()
    whole = model._train_step(users, items, labels)
    expected_grads = [p.grad.clone() for p in model.parameters()]
    monkeypatch.setattr(delf, "TRAIN_CHUNK_ROWS", 2)
    model.zero_grad()
    assert model._train_step(users, items, labels) == pytest.approx(whole, rel=1e-6)
    for parameter, expected in zip(model.parameters(), expected_grads):
        assert torch.allclose(parameter.grad, expected, atol=1e-7)
    user_att, item_att = model.attentive_embeddings()
    parts = model._first_layers(torch.from_numpy(users), torch.from_numpy(items), (user_att, item_att))
    logits = model._logits(parts, torch.from_numpy(users), torch.from_numpy(items), (5,), (5,)).detach().numpy()
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert whole == pytest.approx(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)), rel=1e-5)


def test_delf_sparse_product_gradients_equal_torch_sparse_mm(monkeypatch):
    """The attention's sparse-times-dense product has ``torch.sparse.mm``'s value and gradients
    (the weights' computed in chunks of entries, one row without entries)."""
    URM = (sp.diags((np.arange(30) != 3).astype(float)) @ sp.random(30, 20, density=0.2, random_state=4)).tocsr()
    URM.eliminate_zeros()
    assert URM[3].nnz == 0 and URM.nnz > 50
    attention = delf._Attention(URM, power=0.5)
    rows, cols = attention.rows, attention.cols
    generator = torch.Generator().manual_seed(0)
    weights = torch.rand(URM.nnz, dtype=torch.float64, generator=generator, requires_grad=True)
    dense = torch.rand(20, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    grad = torch.rand(30, 6, dtype=torch.float64, generator=generator)
    monkeypatch.setattr(delf, "GRADIENT_CHUNK_ENTRIES", 7)
    ours = delf._SparseTimesDense.apply(weights, dense, rows, cols, attention.transpose_order, 30)
    matrix = torch.sparse_coo_tensor(torch.stack([rows, cols]), weights, (30, 20), check_invariants=True)
    expected = torch.sparse.mm(matrix, dense)
    assert torch.allclose(ours, expected)
    for mine, reference in zip(torch.autograd.grad(ours, (weights, dense), grad),
                               torch.autograd.grad(expected, (weights, dense), grad)):
        assert torch.allclose(mine, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fusion", ["mlp", "ef"])
@pytest.mark.parametrize("layers", [(16, 8, 4), (16, 8, 12)])  # the head's hidden layer narrower / wider
def test_delf_scores_in_reused_buffers_equal_the_training_path(monkeypatch, fusion, layers):
    """``score_block`` (chunks through buffers, in place) gives the logits of the training path's
    ``_logits`` on every (user, item) pair, with chunks of several users and a shorter last one."""
    train, _ = tiny()
    n_users, n_items = train.shape
    model = network(delf.DELF, train, fusion=fusion, learning_rate=1e-3, num_negatives=2, batch_size=4,
                    layers=layers, regularization_layers=(0, 0, 0), learner="adam")
    model.run_epoch()  # biases away from zero
    model.eval()
    user_ids = np.array([5, 0, 47, 3, 3, 20, 11])
    monkeypatch.setattr(delf, "SCORE_CHUNK_ELEMENTS", 3 * n_items * model.score_pair_width())  # 3, 3, 1 users
    scores = model.score_block(user_ids).numpy()
    users, items = (torch.from_numpy(a.ravel()) for a in np.meshgrid(user_ids, np.arange(n_items), indexing="ij"))
    with torch.no_grad():
        parts = model._first_layers(users, items, model.attentive_embeddings())
        expected = model._logits(parts, users, items, (users.numel(),), (items.numel(),)).numpy()
    assert scores.shape == (user_ids.size, n_items)
    assert np.allclose(scores.ravel(), expected, rtol=1e-5, atol=1e-6)
    assert np.ptp(expected) > 1e-3  # the scores differ between pairs


def test_neurec_penalties_and_pointwise_loss():
    train, _ = tiny()
    for side, norm in (("item", lambda w: np.linalg.norm(w)), ("user", lambda w: (w**2).sum() / 2)):
        model = network(NeuRec, train, side=side, num_neurons=5, num_factors=3, dropout_percentage=0.0,
                        learning_rate=1e-3, regularization_rate=0.1, batch_size=8)
        weights = [model.embeddings, *(layer.weight for layer in model.layers)]
        expected = sum(norm(w.detach().double().numpy()) for w in weights)
        assert model.penalty().item() == pytest.approx(expected, rel=1e-5)
        assert model.layers[0].in_features == (48 if side == "item" else 24)
    scores = model.eval().score_block(np.arange(48)).detach().numpy()  # U-NeuRec: f(R_u) . Q_i
    h = train.toarray()
    for layer in model.layers:
        h = 1 / (1 + np.exp(-(h @ layer.weight.detach().numpy().T + layer.bias.detach().numpy())))
    assert np.allclose(scores, h @ model.embeddings.detach().numpy().T, atol=1e-5)


def test_spectral_operator_is_the_reference_formula_with_orthonormal_eigenvectors():
    # a 3-regular graph with self-loops (every node: 2 neighbours + itself), so D^-1 A is symmetric
    ring = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]], dtype=np.float32))
    n = 8
    A = np.eye(n) + np.block([[np.zeros((4, 4)), ring.toarray()], [ring.toarray().T, np.zeros((4, 4))]])
    L = np.eye(n) - A / A.sum(axis=1, keepdims=True)
    eigenvalues, U = np.linalg.eigh(L)
    reference = U @ U.T + U @ np.diag(eigenvalues) @ U.T
    assert np.allclose(spectral_operator(ring).toarray(), reference, atol=1e-6)


def test_negative_sampler_never_returns_an_interaction():
    train, _ = tiny()
    sampler = NegativeSampler(train)
    users = np.repeat(np.arange(48), 50)
    items = sampler.sample(users, np.random.default_rng(0))
    assert not train[users, items].any() and len(set(items)) > 20
    full = sp.csr_matrix(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="every item"):
        NegativeSampler(full).sample(np.array([0]), np.random.default_rng(0))


class Counter(training.NeuralNetwork):
    """A network whose one parameter counts its epochs."""

    def __init__(self):
        super().__init__()
        self.value = torch.nn.Parameter(torch.zeros(()))

    def run_epoch(self):
        with torch.no_grad():
            self.value += 1
        return 1.0


def test_early_stopping_follows_the_reference_rule():
    values = iter([0.1, 0.3, 0.3, 0.2, 0.25, 0.29, 0.1, 0.9])  # validations at epochs 5, 10, 15, ...
    net = Counter()
    history = training.train(net, epochs=100, validation_metric=lambda: next(values))
    # best at epoch 10; equal is not better; 5 validations in a row without improvement stop at 35
    assert history.epochs_run == 35 and history.best_epoch == 10
    assert [epoch for epoch, _ in history.validations] == [5, 10, 15, 20, 25, 30, 35]
    assert net.value.item() == 10  # the best epoch's parameters are restored
    net = Counter()
    history = training.train(net, epochs=12)
    assert history.epochs_run == history.best_epoch == 12 == net.value.item() and history.validations == []
    with pytest.raises(FloatingPointError, match="validation"):
        training.train(Counter(), epochs=10, validation_metric=lambda: float("nan"))


def test_memory_estimate_refuses_an_oversized_configuration(monkeypatch):
    monkeypatch.setenv("RECZILLA_MEMORY_LIMIT", "600M")  # above the torch runtime, below a dense 20k x 8k
    train, _ = tiny()
    rng = np.random.default_rng(0)
    large = sp.csr_matrix((np.ones(1000, np.float32), (rng.integers(0, 20_000, 1000), rng.integers(0, 8_000, 1000))),
                          shape=(20_000, 8_000))
    with pytest.raises(MemoryEstimateExceeded):
        fit("INeuRec_RecommenderWrapper", large, epochs=1)
    for name in NEURAL:
        cls = ALGORITHMS[name].recommender_class
        assert cls.estimate_memory_bytes(20_000, 8_000, 1_000_000) > cls.estimate_memory_bytes(300, 200, 6_000), name


@pytest.mark.parametrize("name", NEURAL)
def test_runs_through_run_experiment(background_runs, name):
    process, folder = finished(background_runs[name])
    assert process.returncode == 0, process.stderr_text
    metadata = read_result_metadata(folder / "result.zip")
    check_contract(metadata)
    assert metadata["status"] == "complete" and len(metadata["samples"]) == 2
    assert metadata["environment"]["device"] == "cpu" and metadata["environment"]["torch"] == torch.__version__
    for sample in metadata["samples"]:
        assert sample["exception"] is None, sample["exception"]
        assert sample["training"] == {"epochs_run": 5, "best_epoch": 5}
        assert 0 <= sample["result_on_test"]["10"]["NDCG"] <= 1


def test_gpu_request_without_gpu_is_a_usage_error(background_runs):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the request is valid")
    process, folder = finished(background_runs["cuda"])
    assert process.returncode == 2 and "no CUDA device" in process.stderr_text and not folder.exists()


def test_the_time_limit_stops_a_long_training(small_split, tmp_path):
    start = time.monotonic()
    result = run_module("tests.neural_runs", "endless", 100_000,  # early stopping would end it before 8 s
                        *experiment_args(small_split, tmp_path, alg="UNeuRec_RecommenderWrapper", time_limit=8))
    assert result.returncode == 0, result.stderr
    metadata = read_result_metadata(tmp_path / "result.zip")
    assert metadata["status"] == "time_limit" and metadata["samples"] == []
    assert time.monotonic() - start < 8 + 2 + 15  # limit, kill grace, interpreter start on a loaded machine
