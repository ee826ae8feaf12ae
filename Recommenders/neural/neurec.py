"""I-NeuRec and U-NeuRec (Zhang et al., IJCAI 2018): a network maps rating vectors to factors.

As the reference (``NeuRec_our_interface/INeuRec.py`` and ``UNeuRec.py``): I-NeuRec feeds each
item's column of the rating matrix (U-NeuRec each user's row), with dropout
``dropout_percentage`` while training, through four sigmoid layers of ``num_neurons`` and one
of ``num_factors``; the prediction is the dot product with a free embedding of the other side
(std 0.005). Weights and biases start standard normal. Training visits every (user, item)
pair once per epoch in shuffled batches of ``batch_size`` (the remainder is dropped), with
target the rating (0 where there is none); loss: the sum of squared errors plus
``regularization_rate`` times the Frobenius norms (I-NeuRec) or the halved squared norms
(U-NeuRec) of the embedding and the weights. Adam with ``learning_rate``.
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from Recommenders.neural.training import NeuralNetwork



class NeuRec(NeuralNetwork):
    """``side="item"``: I-NeuRec; ``side="user"``: U-NeuRec."""

    def __init__(self, URM: sp.csr_matrix, device, rng: np.random.Generator, side: str, num_neurons: int,
                 num_factors: int, dropout_percentage: float, learning_rate: float, regularization_rate: float,
                 batch_size: int):
        super().__init__()
        if side not in ("item", "user"):
            raise ValueError(f"side must be 'item' or 'user', got {side!r}")
        self.side = side
        ratings = torch.from_numpy(URM.toarray())
        vectors = ratings.T.contiguous() if side == "item" else ratings  # inputs of the network
        self.register_buffer("ratings", ratings, persistent=False)
        self.register_buffer("vectors", vectors, persistent=False)
        n_other = URM.shape[0] if side == "item" else URM.shape[1]
        self.embeddings = torch.nn.Parameter(torch.randn(n_other, num_factors) * 0.005)
        sizes = [vectors.shape[1], num_neurons, num_neurons, num_neurons, num_neurons, num_factors]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            torch.nn.init.normal_(layer.weight)
            torch.nn.init.normal_(layer.bias)
        self.dropout, self.regularization_rate = dropout_percentage, regularization_rate
        self.rng, self.device, self.batch_size = rng, device, batch_size
        self.optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate, foreach=True)

    def factors(self, vector_ids: torch.Tensor) -> torch.Tensor:
        """The network's factors for the given input vectors (items for I-NeuRec, users for U-NeuRec)."""
        h = F.dropout(self.vectors[vector_ids], p=self.dropout, training=self.training)
        for layer in self.layers:
            h = torch.sigmoid(layer(h))
        return h

    def penalty(self) -> torch.Tensor:
        weights = [self.embeddings, *(layer.weight for layer in self.layers)]
        if self.side == "item":
            return sum(torch.linalg.norm(w) for w in weights)
        return sum((w**2).sum() / 2 for w in weights)

    def run_epoch(self) -> float:
        n_users, n_items = self.ratings.shape
        order = torch.from_numpy(self.rng.permutation(n_users * n_items)).to(self.device)
        losses = []
        for batch in range(order.numel() // self.batch_size):
            pairs = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            users, items = pairs // n_items, pairs % n_items
            if self.side == "item":
                predicted = (self.embeddings[users] * self.factors(items)).sum(dim=1)
            else:
                predicted = (self.embeddings[items] * self.factors(users)).sum(dim=1)
            loss = ((self.ratings[users, items] - predicted) ** 2).sum() + self.regularization_rate * self.penalty()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        if not losses:
            raise ValueError(f"NeuRec needs at least batch_size={self.batch_size} (user, item) pairs")
        return float(np.mean(losses))

    def score_block(self, user_ids: np.ndarray) -> torch.Tensor:
        users = torch.from_numpy(np.asarray(user_ids, dtype=np.int64)).to(self.device)
        if self.side == "item":
            item_factors = self.cached("items", lambda: self.factors(torch.arange(self.ratings.shape[1],
                                                                                 device=self.device)))
            return self.embeddings[users] @ item_factors.T
        return self.factors(users) @ self.embeddings.T
