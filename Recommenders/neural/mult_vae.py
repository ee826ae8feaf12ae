"""Mult-VAE (Liang et al., WWW 2018): a variational autoencoder of each user's row.

As the reference wrapper (``MultiVAE_RecommenderWrapper`` with ``MultiVae_Dae.MultiVAE``):
decoder dims ``p_dims`` (default ``[200, 600, n_items]``), the encoder their mirror with a
doubled last layer (mean and log-variance); tanh between layers; the input row is
L2-normalised and passed through dropout (keep 0.5) while training. Loss, per batch of
users: the multinomial negative log-likelihood, plus ``anneal * KL`` with
``anneal = min(anneal_cap, updates / total_anneal_steps)``, plus ``lam * sum(W**2)`` over
the weight matrices (the reference's ``2 * l2_regularizer(lam)``). Adam with ``lr``; the
penalty's gradient ``2 * lam * W`` is Adam's ``weight_decay`` on the weight matrices (added to
the gradient before the moments: the same update as differentiating the penalty, without
squaring the weights in the graph at every step), in PyTorch's fused kernel.
Weights start Xavier-uniform, biases normal with std 0.001 truncated at 2 std. Scores are the
decoder's logits for ``z = mu`` without dropout.
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from Recommenders.neural.network_init import truncated_normal_
from Recommenders.neural.training import NeuralNetwork


class MultVAE(NeuralNetwork):
    """The network, its loss and one epoch of training over shuffled users."""

    def __init__(self, URM: sp.csr_matrix, device, rng: np.random.Generator, total_anneal_steps: int, lam: float,
                 lr: float, batch_size: int, p_dims: list | None, anneal_cap: float = 0.2):
        super().__init__()
        n_items = URM.shape[1]
        p_dims = [200, 600, n_items] if p_dims is None else list(p_dims)
        if p_dims[-1] != n_items:
            raise ValueError(f"p_dims must end with n_items={n_items}, got {p_dims}")
        q_dims = p_dims[::-1]
        encoder_out = q_dims[1:-1] + [2 * q_dims[-1]]
        self.latent_dim = q_dims[-1]
        self.encoder = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(q_dims[:-1], encoder_out))
        self.decoder = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(p_dims[:-1], p_dims[1:]))
        for layer in [*self.encoder, *self.decoder]:
            torch.nn.init.xavier_uniform_(layer.weight)
            truncated_normal_(layer.bias, std=0.001)
        self.URM, self.rng, self.device = URM, rng, device
        self.total_anneal_steps, self.anneal_cap, self.lam = total_anneal_steps, anneal_cap, lam
        self.batch_size = batch_size
        self.update_count = 0
        self.weights = [layer.weight for layer in [*self.encoder, *self.decoder]]
        biases = [layer.bias for layer in [*self.encoder, *self.decoder]]
        self.optimizer = torch.optim.Adam([{"params": self.weights, "weight_decay": 2 * lam},
                                           {"params": biases, "weight_decay": 0.0}], lr=lr, fused=True)

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, KL)`` for a batch of user rows; sampling and dropout only in training mode."""
        h = F.dropout(F.normalize(rows, dim=1), p=0.5, training=self.training)
        for index, layer in enumerate(self.encoder):
            h = layer(h)
            if index != len(self.encoder) - 1:
                h = torch.tanh(h)
        mu, logvar = h[:, : self.latent_dim], h[:, self.latent_dim :]
        kl = (0.5 * (-logvar + logvar.exp() + mu**2 - 1)).sum(dim=1).mean()
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        for index, layer in enumerate(self.decoder):
            z = layer(z)
            if index != len(self.decoder) - 1:
                z = torch.tanh(z)
        return z, kl

    def loss(self, rows: torch.Tensor, anneal: float) -> torch.Tensor:
        """The annealed negative ELBO plus the L2 penalty on the weights; only the ELBO carries a
        gradient (the optimiser's ``weight_decay`` is the penalty's)."""
        logits, kl = self(rows)
        neg_ll = -(F.log_softmax(logits, dim=1) * rows).sum(dim=1).mean()
        with torch.no_grad():
            penalty = sum(torch.linalg.vector_norm(weight) ** 2 for weight in self.weights)
        return neg_ll + anneal * kl + self.lam * penalty

    def train_step(self, rows: torch.Tensor) -> float:
        """One Adam step on a batch of user rows; its loss."""
        loss = self.loss(rows, self.anneal())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.update_count += 1
        return loss.item()

    def anneal(self) -> float:
        if self.total_anneal_steps <= 0:
            return self.anneal_cap
        return min(self.anneal_cap, self.update_count / self.total_anneal_steps)

    def dense_rows(self, user_ids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.URM[user_ids].toarray()).to(self.device)

    def run_epoch(self) -> float:
        order = self.rng.permutation(self.URM.shape[0])
        losses = [self.train_step(self.dense_rows(order[start : start + self.batch_size]))
                  for start in range(0, order.size, self.batch_size)]
        return float(np.mean(losses))

    def score_block(self, user_ids: np.ndarray) -> torch.Tensor:
        return self(self.dense_rows(user_ids))[0]
