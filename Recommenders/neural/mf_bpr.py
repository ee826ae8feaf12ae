"""MF-BPR, the matrix factorisation baseline of ConvNCF (He et al., IJCAI 2018).

As the reference (``ConvNCF_our_interface/MF_BPR.py``, class ``GMF``, with ``MFBPR_Wrapper``):
user and item embeddings of ``embed_size`` (normal, std 0.01, truncated at 2 std), score
``p_u . q_i``. Each epoch shuffles the interactions into ``len // batch_size`` batches (the
remainder is dropped); every positive gets ``negative_sample_per_positive`` uniform negatives
and, when there are several, the highest-scoring one is kept (dynamic negative sampling).
Loss per batch: ``sum softplus(-(x_ui - x_uj)) + regularization * (|p_u|^2 + |q_i|^2 +
|q_j|^2)`` summed over the batch. Adagrad (initial accumulator 0.1, as TensorFlow 1).
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from Recommenders.neural.network_init import truncated_normal_
from Recommenders.neural.sampling import NegativeSampler, positive_pairs
from Recommenders.neural.training import NeuralNetwork


class MFBPR(NeuralNetwork):
    """The factorisation, its BPR loss and one epoch over shuffled interactions."""

    def __init__(self, URM: sp.csr_matrix, device, rng: np.random.Generator, embed_size: int, learning_rate: float,
                 batch_size: int, negative_sample_per_positive: int, regularization: float = 0.01):
        super().__init__()
        if negative_sample_per_positive < 1:
            raise ValueError(f"negative_sample_per_positive must be at least 1, got {negative_sample_per_positive}")
        n_users, n_items = URM.shape
        self.user_factors = torch.nn.Parameter(truncated_normal_(torch.empty(n_users, embed_size), std=0.01))
        self.item_factors = torch.nn.Parameter(truncated_normal_(torch.empty(n_items, embed_size), std=0.01))
        self.positives, self.sampler = positive_pairs(URM), NegativeSampler(URM)
        self.rng, self.device, self.batch_size = rng, device, batch_size
        self.negatives_per_positive, self.regularization = negative_sample_per_positive, regularization
        self.optimizer = torch.optim.Adagrad(self.parameters(), lr=learning_rate, initial_accumulator_value=0.1,
                                             foreach=True)

    def hardest_negatives(self, users: torch.Tensor) -> torch.Tensor:
        """One negative per user: uniform, or the best-scored of several candidates."""
        repeated = np.repeat(users.cpu().numpy(), self.negatives_per_positive)
        candidates = torch.from_numpy(self.sampler.sample(repeated, self.rng)).to(self.device)
        if self.negatives_per_positive == 1:
            return candidates
        candidates = candidates.reshape(users.numel(), self.negatives_per_positive)
        with torch.no_grad():
            scores = (self.user_factors[users].unsqueeze(1) * self.item_factors[candidates]).sum(dim=2)
        return candidates.gather(1, scores.argmax(dim=1, keepdim=True)).squeeze(1)

    def bpr_loss(self, users, positives, negatives) -> torch.Tensor:
        p, q_pos, q_neg = self.user_factors[users], self.item_factors[positives], self.item_factors[negatives]
        difference = (p * q_pos).sum(dim=1) - (p * q_neg).sum(dim=1)
        penalty = (p**2).sum() + (q_pos**2).sum() + (q_neg**2).sum()
        return F.softplus(-difference).sum() + self.regularization * penalty

    def run_epoch(self) -> float:
        users, items = self.positives
        order = self.rng.permutation(users.size)
        n_batches = users.size // self.batch_size
        if n_batches == 0:
            raise ValueError(f"MF-BPR needs at least batch_size={self.batch_size} interactions, got {users.size}")
        losses = []
        for batch in range(n_batches):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            u, i = (torch.from_numpy(a[index]).to(self.device) for a in (users, items))
            loss = self.bpr_loss(u, i, self.hardest_negatives(u))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def score_block(self, user_ids: np.ndarray) -> torch.Tensor:
        users = torch.from_numpy(np.asarray(user_ids, dtype=np.int64)).to(self.device)
        return self.user_factors[users] @ self.item_factors.T
