"""SpectralCF (Zheng et al., RecSys 2018): spectral convolutions on the user-item graph, BPR loss.

As the reference (``SpectralCF_our_interface``): the bipartite graph of the rating matrix
with self-loops, ``A = I + [[0, R], [R^T, 0]]``, its random-walk Laplacian
``L = I - D^-1 A``, and ``k`` layers ``X <- sigmoid(A_hat X Theta_k)`` from the concatenated
user and item embeddings; the final embedding of a node is the concatenation of all layers.
Embeddings and filters start normal with mean 0.01 and std 0.02. One epoch is one batch of
``batch_size`` distinct users (with interactions), each with one of its items and one item
it did not interact with; loss: mean BPR loss plus ``decay`` times the halved squared norms of
the batch's final embeddings divided by ``batch_size``. RMSProp as TensorFlow 1 (mean square
starting at 1, decay 0.9, epsilon 1e-10 inside the square root).

Departure: ``A_hat = U U^T + U Lambda U^T`` of the reference is computed as ``I + L``, which
it equals when the eigenvectors ``U`` are orthonormal (the paper's definition). The reference
takes a dense ``numpy.linalg.eig`` of the non-symmetric ``L``, whose eigenvectors are not
orthonormal and, for repeated eigenvalues, arbitrary; that matrix is dense and costs
``O((users + items)^3)`` time, out of reach on most datasets. ``I + L`` is sparse.
"""

import numpy as np
import scipy.sparse as sp
import torch

from Recommenders.neural.sampling import NegativeSampler
from Recommenders.neural.training import NeuralNetwork

RMSPROP_DECAY = 0.9
RMSPROP_EPSILON = 1e-10


def spectral_operator(URM: sp.csr_matrix) -> sp.csr_matrix:
    """``I + L = 2 I - D^-1 (I + A)`` of the bipartite graph of ``URM`` (float32 CSR)."""
    n_users, n_items = URM.shape
    adjacency = sp.bmat([[None, URM], [URM.T, None]], format="csr") + sp.identity(n_users + n_items, format="csr")
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    walk = sp.diags(1.0 / degree) @ adjacency
    return (2 * sp.identity(n_users + n_items) - walk).tocsr().astype(np.float32)


def _sparse_tensor(matrix: sp.spmatrix) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(indices, torch.from_numpy(coo.data), coo.shape, check_invariants=False).coalesce()


class _SparseProduct(torch.autograd.Function):
    """``operator @ x``, its gradient ``operator^T @ grad`` from the transpose kept with the model
    (PyTorch's own backward transposes and coalesces the operator at every step)."""

    @staticmethod
    def forward(ctx, operator, operator_transposed, x):
        ctx.operator_transposed = operator_transposed
        return torch.sparse.mm(operator, x)

    @staticmethod
    def backward(ctx, grad):
        return None, None, torch.sparse.mm(ctx.operator_transposed, grad)


class SpectralCF(NeuralNetwork):
    """The network, its BPR loss and one batch per epoch."""

    def __init__(self, URM: sp.csr_matrix, device, rng: np.random.Generator, embedding_size: int, decay: float,
                 learning_rate: float, k: int, batch_size: int):
        super().__init__()
        n_users, n_items = URM.shape
        operator = spectral_operator(URM)
        self.register_buffer("operator", _sparse_tensor(operator), persistent=False)
        self.register_buffer("operator_transposed", _sparse_tensor(operator.T), persistent=False)
        self.embeddings = torch.nn.Parameter(torch.randn(n_users + n_items, embedding_size) * 0.02 + 0.01)
        self.filters = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(embedding_size, embedding_size) * 0.02 + 0.01) for _ in range(k))
        self.n_users, self.URM, self.sampler = n_users, URM, NegativeSampler(URM)
        self.users_with_items = np.flatnonzero(np.diff(URM.indptr) > 0)
        self.rng, self.device, self.batch_size = rng, device, batch_size
        self.learning_rate, self.decay = learning_rate, decay
        self.mean_squares = None

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users x (k+1) e, items x (k+1) e)``: every layer's embeddings, concatenated."""
        x = self.embeddings
        layers = [x]
        for theta in self.filters:
            x = torch.sigmoid(_SparseProduct.apply(self.operator, self.operator_transposed, x) @ theta)
            layers.append(x)
        stacked = torch.cat(layers, dim=1)
        return stacked[: self.n_users], stacked[self.n_users :]

    def sample_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users, positives, negatives)`` as the reference's ``Data.sample``."""
        replace = self.batch_size > self.users_with_items.size
        users = self.rng.choice(self.users_with_items, size=self.batch_size, replace=replace)
        starts, counts = self.URM.indptr[users], np.diff(self.URM.indptr)[users]
        positives = self.URM.indices[starts + self.rng.integers(0, counts)].astype(np.int64)
        return users, positives, self.sampler.sample(users, self.rng)

    def bpr_loss(self, users, positives, negatives) -> torch.Tensor:
        user_emb, item_emb = self.final_embeddings()
        u, p, n = user_emb[users], item_emb[positives], item_emb[negatives]
        difference = (u * p).sum(dim=1) - (u * n).sum(dim=1)
        penalty = ((u**2).sum() + (p**2).sum() + (n**2).sum()) / 2 / self.batch_size
        return -torch.nn.functional.logsigmoid(difference).mean() + self.decay * penalty

    def rmsprop_step(self) -> None:
        """TensorFlow 1's RMSProp update (no momentum)."""
        parameters = list(self.parameters())
        if self.mean_squares is None:
            self.mean_squares = [torch.ones_like(p) for p in parameters]
        with torch.no_grad():
            for parameter, mean_square in zip(parameters, self.mean_squares):
                mean_square.mul_(RMSPROP_DECAY).addcmul_(parameter.grad, parameter.grad, value=1 - RMSPROP_DECAY)
                parameter.sub_(self.learning_rate * parameter.grad / torch.sqrt(mean_square + RMSPROP_EPSILON))

    def run_epoch(self) -> float:
        users, positives, negatives = (torch.from_numpy(a).to(self.device) for a in self.sample_batch())
        self.zero_grad()
        loss = self.bpr_loss(users, positives, negatives)
        loss.backward()
        self.rmsprop_step()
        return loss.item()

    def score_block(self, user_ids: np.ndarray) -> torch.Tensor:
        nodes = self.cached("final", lambda: torch.cat(self.final_embeddings()))
        users = torch.from_numpy(np.asarray(user_ids, dtype=np.int64)).to(self.device)
        return nodes[users] @ nodes[self.n_users :].T
