"""Registry entries of the seven neural models, and their memory estimates (no torch import).

Spaces, defaults and fixed fit arguments are those of the reference's ``algorithm_handler.py``
(``epochs`` 100 and ``batch_size`` 64 for all seven, early stopping on validation NDCG).
Departures: Mult-VAE's default ``lam`` is 1e-10, the lower bound of its space, where the
reference's 0.0 lay outside it; MF-BPR drops ``path_partial_results`` (a temporary folder;
the best epoch is kept in memory here).

Memory estimates are upper bounds of the peak resident memory of a fit plus scoring, in
bytes: the PyTorch runtime, the data copies each model makes, the parameters four to five
times (values, gradients, optimiser state, best-epoch copy) and the largest batch's
activations.
"""

from Recommenders.hyperparameter_space import Categorical, HyperparameterSpace, Integer, Real
from Recommenders.algorithm_spec import AlgorithmSpec
from Recommenders.base import BaseRecommender, score_block_users
from Recommenders.neural.recommender import (
    SCORE_CHUNK_ELEMENTS,
    TORCH_RUNTIME_BYTES,
    TRAIN_CHUNK_ROWS,
    NeuralRecommender,
)

FLOAT = 4
INDEX = 8
#: Parameters held per trainable value: itself, its gradient, two optimiser moments, the best copy.
PARAMETER_COPIES = 5
FIXED_TRAINING = {"epochs": 100, "batch_size": 64}


def _common_bytes(n_users: int, n_items: int, n_interactions: int) -> int:
    """The training matrix and one score block (``BaseRecommender``), the torch runtime, and the
    ranking of one score block (a float copy, an index array)."""
    ranking = score_block_users(n_users) * n_items * (FLOAT + INDEX)
    return BaseRecommender.estimate_memory_bytes(n_users, n_items, n_interactions) + TORCH_RUNTIME_BYTES + ranking


class Mult_VAE_RecommenderWrapper(NeuralRecommender):
    """Mult-VAE (``Recommenders.neural.mult_vae``)."""

    network = ("Recommenders.neural.mult_vae", "MultVAE")

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        hyperparameters = cls.with_defaults(hyperparameters)
        p_dims, batch_size = hyperparameters["p_dims"], hyperparameters["batch_size"]
        dims = [200, 600, n_items] if p_dims is None else list(p_dims)
        mirror = dims[::-1]
        layers = list(zip(mirror[:-1], mirror[1:-1] + [2 * mirror[-1]])) + list(zip(dims[:-1], dims[1:]))
        parameters = sum(n_in * n_out + n_out for n_in, n_out in layers)
        hidden = sum(n_out for _, n_out in layers)
        # a training batch (values, gradients) or a score block (input rows, normalised, output)
        activations = max(batch_size * (8 * n_items + 4 * hidden),
                          score_block_users(n_users) * (3 * n_items + 2 * hidden))
        return _common_bytes(n_users, n_items, n_interactions) + FLOAT * (PARAMETER_COPIES * parameters + activations)


class _DELF(NeuralRecommender):
    network = ("Recommenders.neural.delf", "DELF")

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        hyperparameters = cls.with_defaults(hyperparameters)
        num_negatives, batch_size = hyperparameters["num_negatives"], hyperparameters["batch_size"]
        layers = hyperparameters["layers"]
        size, hidden = layers[0] // 2, (layers[1] // 2, layers[2] // 2)
        tables = 2 * (n_users + n_items) * size + 2 * (size * 64 + 65)
        towers = 4 * (2 * size * hidden[0] + hidden[0] + hidden[0] * hidden[1] + hidden[1])
        head = 4 * hidden[1] * layers[-1] + 2 * layers[-1] + 1
        parameters = tables + towers + head
        instances = n_interactions * (1 + num_negatives)
        # per training instance: users, items, order, the negatives' users (int64), a label, sampling temporaries
        sampling = instances * (6 * INDEX + FLOAT)
        # per interaction and side: rows, cols, their order by column (int64), ratings, score
        # temporaries, sparse indices
        attention = 2 * n_interactions * (5 * INDEX + 8 * FLOAT) + 4 * (n_users + n_items) * size * FLOAT
        per_row = 3 * (8 * size + 12 * hidden[0] + 8 * hidden[1] + 2 * layers[-1])
        chunk_rows = min(TRAIN_CHUNK_ROWS, max(instances // batch_size, 1))
        training = chunk_rows * per_row * FLOAT
        # scoring (``DELF.score_block``): the buffers of a chunk of users (per (user, item) pair a
        # tower's or the head's hidden layer, a tower's output, the fused towers), and each user's
        # and item's first-layer part per tower
        fused = 4 * hidden[1] if cls.network_options["fusion"] == "mlp" else hidden[1]
        pair_width = max(hidden[0], layers[-1]) + hidden[1] + fused
        block = score_block_users(n_users)
        chunk_users = min(block, max(1, SCORE_CHUNK_ELEMENTS // (n_items * pair_width)))
        scoring = (chunk_users * n_items * pair_width + 4 * (block + n_items) * hidden[0]) * FLOAT
        return (_common_bytes(n_users, n_items, n_interactions) + PARAMETER_COPIES * parameters * FLOAT + sampling
                + attention + max(training, scoring))


class DELF_MLP_RecommenderWrapper(_DELF):
    """DELF-MLP (``Recommenders.neural.delf``, ``fusion="mlp"``)."""

    network_options = {"fusion": "mlp"}


class DELF_EF_RecommenderWrapper(_DELF):
    """DELF-EF (``Recommenders.neural.delf``, ``fusion="ef"``)."""

    network_options = {"fusion": "ef"}


class _NeuRec(NeuralRecommender):
    network = ("Recommenders.neural.neurec", "NeuRec")

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        hyperparameters = cls.with_defaults(hyperparameters)
        num_neurons, num_factors = hyperparameters["num_neurons"], hyperparameters["num_factors"]
        batch_size = hyperparameters["batch_size"]
        item_side = cls.network_options["side"] == "item"
        in_dim, n_inputs, n_other = (n_users, n_items, n_users) if item_side else (n_items, n_users, n_items)
        parameters = (in_dim * num_neurons + 3 * num_neurons**2 + num_neurons * num_factors + 4 * num_neurons
                      + num_factors + n_other * num_factors)
        dense = n_users * n_items * FLOAT * (3 if item_side else 1)  # ratings (+ their transpose and a gather)
        permutation = n_users * n_items * INDEX * 2  # numpy's permutation and its shuffle buffer
        rows = n_inputs if item_side else score_block_users(n_users)
        activations = max(batch_size, rows) * (2 * in_dim + 10 * num_neurons + 4 * num_factors) * FLOAT
        return (_common_bytes(n_users, n_items, n_interactions) + PARAMETER_COPIES * parameters * FLOAT + dense
                + permutation + activations)


class INeuRec_RecommenderWrapper(_NeuRec):
    """I-NeuRec (``Recommenders.neural.neurec``, ``side="item"``)."""

    network_options = {"side": "item"}


class UNeuRec_RecommenderWrapper(_NeuRec):
    """U-NeuRec (``Recommenders.neural.neurec``, ``side="user"``)."""

    network_options = {"side": "user"}


class SpectralCF_RecommenderWrapper(NeuralRecommender):
    """SpectralCF (``Recommenders.neural.spectral_cf``)."""

    network = ("Recommenders.neural.spectral_cf", "SpectralCF")

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        hyperparameters = cls.with_defaults(hyperparameters)
        embedding_size, k = hyperparameters["embedding_size"], hyperparameters["k"]
        nodes = n_users + n_items
        operator_entries = 2 * n_interactions + nodes
        construction = 8 * operator_entries * (INDEX + FLOAT)  # scipy's intermediate matrices, COO, torch copy
        parameters = nodes * embedding_size + k * embedding_size**2
        propagation = 4 * (k + 1) * nodes * embedding_size  # layer inputs/outputs, sigmoid, gradients
        cache = (k + 1) * nodes * embedding_size
        return (_common_bytes(n_users, n_items, n_interactions) + construction + PARAMETER_COPIES * parameters * FLOAT
                + (propagation + cache) * FLOAT)


class MFBPR_Wrapper(NeuralRecommender):
    """MF-BPR (``Recommenders.neural.mf_bpr``)."""

    network = ("Recommenders.neural.mf_bpr", "MFBPR")

    @classmethod
    def estimate_memory_bytes(cls, n_users, n_items, n_interactions, **hyperparameters):
        parameters = (n_users + n_items) * cls.with_defaults(hyperparameters)["embed_size"]
        samples = n_interactions * 5 * INDEX  # users, items, sampler keys, order, shuffle buffer
        return _common_bytes(n_users, n_items, n_interactions) + PARAMETER_COPIES * parameters * FLOAT + samples


def _spec(name, recommender_class, dimensions, default, **fit_args) -> AlgorithmSpec:
    return AlgorithmSpec(name, recommender_class, HyperparameterSpace(dimensions, default),
                         fit_args={**FIXED_TRAINING, **fit_args}, early_stopping=True, extra="neural")


_NEUREC_SPACE = {
    "num_neurons": Integer(3, 500),
    "num_factors": Integer(2, 100),
    "dropout_percentage": Real(0.0, 0.3),
    "learning_rate": Real(1e-6, 1e-1, prior="log-uniform"),
    "regularization_rate": Real(1e-4, 1e1, prior="log-uniform"),
}
_NEUREC_DEFAULT = {"num_neurons": 100, "num_factors": 10, "dropout_percentage": 0.1, "learning_rate": 1e-3,
                   "regularization_rate": 1e-2}
_DELF_SPACE = {"learning_rate": Real(1e-6, 1e-2, prior="log-uniform"), "num_negatives": Integer(3, 4)}
_DELF_DEFAULT = {"learning_rate": 1e-3, "num_negatives": 4}
_DELF_FIXED = {"learner": "adam", "verbose": False, "layers": (256, 128, 64), "regularization_layers": (0, 0, 0)}

#: In the order of the reference's ``ALGORITHM_NAME_LIST``.
ALGORITHM_SPECS = [
    _spec("INeuRec_RecommenderWrapper", INeuRec_RecommenderWrapper, _NEUREC_SPACE, _NEUREC_DEFAULT),
    _spec("UNeuRec_RecommenderWrapper", UNeuRec_RecommenderWrapper, _NEUREC_SPACE, _NEUREC_DEFAULT),
    _spec("SpectralCF_RecommenderWrapper", SpectralCF_RecommenderWrapper,
          {"embedding_size": Categorical([4, 8, 16, 32]), "decay": Real(1e-5, 1e-1, prior="log-uniform"),
           "learning_rate": Real(1e-5, 1e-2, prior="log-uniform"), "k": Integer(1, 6)},
          {"embedding_size": 16, "decay": 1e-3, "learning_rate": 1e-3, "k": 3}),
    _spec("Mult_VAE_RecommenderWrapper", Mult_VAE_RecommenderWrapper,
          {"total_anneal_steps": Integer(1000, 1000000), "lam": Real(1e-10, 1e-1, prior="log-uniform"),
           "lr": Real(1e-6, 1e-2, prior="log-uniform")},
          {"total_anneal_steps": 200000, "lam": 1e-10, "lr": 1e-3}, p_dims=None),
    _spec("DELF_MLP_RecommenderWrapper", DELF_MLP_RecommenderWrapper, _DELF_SPACE, _DELF_DEFAULT, **_DELF_FIXED),
    _spec("DELF_EF_RecommenderWrapper", DELF_EF_RecommenderWrapper, _DELF_SPACE, _DELF_DEFAULT, **_DELF_FIXED),
    _spec("MFBPR_Wrapper", MFBPR_Wrapper,
          {"embed_size": Categorical([32, 64, 128]), "learning_rate": Real(1e-4, 1e-1, prior="log-uniform")},
          {"embed_size": 64, "learning_rate": 1e-3}, negative_sample_per_positive=1),
]
