"""DELF (Cheng et al., IJCAI 2018): dual embeddings with attention, pointwise log loss.

As the reference (``DELFWrapper`` with ``DELF_original/Model/NMF_attention_MLP.py`` and
``NMF_attention_EF.py``), with ``e = layers[0] // 2``:

- four embedding tables (users and items, for attention and for the MLPs), Xavier-uniform;
- item attention ``a_i = W2 relu(W1 emb_i + b1) + b2`` (hidden size 64), likewise for users;
- a user's attentive embedding is ``sum_j w_uj emb_j`` over the items ``j`` they rated, with
  ``s_uj = r_uj a_j + r_uj - 1`` and ``w_uj = exp(s_uj) / (sum_k exp(s_uk)) ** power``
  (``power`` 0.5 for DELF-MLP, 1 for DELF-EF); an item's over the users who rated it;
- four MLPs (two ReLU layers of ``layers[1] // 2`` and ``layers[2] // 2``) on the pairs
  (user, item), (attentive user, item), (user, attentive item), (attentive user, attentive item);
- DELF-MLP concatenates their outputs, DELF-EF mixes them with ``alpha_u = clip(sqrt(sum_j r_uj)
  / 2, 0, 1)`` and ``alpha_i`` likewise; then ReLU(``layers[-1]``) and a linear output (the logit).

Training: each interaction is a positive, with ``num_negatives`` uniform negatives per
positive redrawn every epoch; sigmoid cross-entropy; Adam; every gradient clipped to
``[-0.1, 0.1]``. An epoch is ``batch_size`` steps of ``len(instances) // batch_size``
instances, as the reference's loop does (its ``batch_size`` is the number of batches).
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from Recommenders.neural.recommender import SCORE_CHUNK_ELEMENTS, TRAIN_CHUNK_ROWS
from Recommenders.neural.sampling import NegativeSampler, positive_pairs
from Recommenders.neural.training import NeuralNetwork

#: Hidden size of the attention networks (fixed in the reference).
ATTENTION_HIDDEN = 64


def _dense_layer(n_in: int, n_out: int) -> torch.nn.Linear:
    """A layer as TF1's ``fully_connected``: Xavier-uniform weights, zero biases."""
    layer = torch.nn.Linear(n_in, n_out)
    torch.nn.init.xavier_uniform_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    return layer


def _attention_net(size: int) -> torch.nn.Sequential:
    """``x -> W2 relu(W1 x + b1) + b2``, every parameter Xavier-uniform as the reference's scope."""
    net = torch.nn.Sequential(torch.nn.Linear(size, ATTENTION_HIDDEN), torch.nn.ReLU(),
                              torch.nn.Linear(ATTENTION_HIDDEN, 1))
    for layer in (net[0], net[2]):
        torch.nn.init.xavier_uniform_(layer.weight)
        bound = (6.0 / (2 * layer.bias.numel())) ** 0.5  # TF's Glorot bound for a vector
        torch.nn.init.uniform_(layer.bias, -bound, bound)
    return net


#: Entries of a sparse matrix whose weight gradients ``_SparseTimesDense`` computes at once.
GRADIENT_CHUNK_ENTRIES = 16384


class _SparseTimesDense(torch.autograd.Function):
    """``S @ dense`` for the sparse matrix ``S`` of ``weights`` at the coalesced ``(rows, cols)``.

    The backward computes each weight's gradient from its row of the output's gradient and its
    row of ``dense`` (``torch.sparse.mm``'s backward forms the dense rows x columns product
    first), and ``dense``'s gradient as ``S.T @ grad`` with ``transpose_order`` (the entries
    sorted by column) giving ``S.T``'s coalesced entries."""

    @staticmethod
    def forward(ctx, weights, dense, rows, cols, transpose_order, n_rows):
        ctx.save_for_backward(weights, dense, rows, cols, transpose_order)
        matrix = torch.sparse_coo_tensor(torch.stack([rows, cols]), weights, (n_rows, dense.shape[0]),
                                         is_coalesced=True, check_invariants=False)
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx, grad):
        weights, dense, rows, cols, order = ctx.saved_tensors
        grad_weights = grad_dense = None
        if ctx.needs_input_grad[0]:
            grad_weights = torch.empty_like(weights)
            for start in range(0, weights.numel(), GRADIENT_CHUNK_ENTRIES):
                entries = slice(start, start + GRADIENT_CHUNK_ENTRIES)
                torch.sum(grad[rows[entries]] * dense[cols[entries]], dim=1, out=grad_weights[entries])
        if ctx.needs_input_grad[1]:
            transpose = torch.sparse_coo_tensor(torch.stack([cols[order], rows[order]]), weights[order],
                                                (dense.shape[0], grad.shape[0]), is_coalesced=True,
                                                check_invariants=False)
            grad_dense = torch.sparse.mm(transpose, grad)
        return grad_weights, grad_dense, None, None, None, None


class _Attention(torch.nn.Module):
    """Attentive embeddings of the rows of a rating matrix over the embeddings of its columns."""

    def __init__(self, URM: sp.csr_matrix, power: float):
        super().__init__()
        rows, cols = positive_pairs(URM)
        self.register_buffer("rows", torch.from_numpy(rows), persistent=False)
        self.register_buffer("cols", torch.from_numpy(cols), persistent=False)
        self.register_buffer("ratings", torch.from_numpy(URM.data.astype(np.float32)), persistent=False)
        self.register_buffer("transpose_order", torch.from_numpy(np.argsort(cols, kind="stable")), persistent=False)
        self.shape, self.power = URM.shape, power

    def forward(self, column_attention: torch.Tensor, column_embeddings: torch.Tensor) -> torch.Tensor:
        n_rows = self.shape[0]
        score = self.ratings * column_attention[self.cols] + self.ratings - 1.0
        row_max = torch.full((n_rows,), -torch.inf, device=score.device).scatter_reduce(
            0, self.rows, score.detach(), reduce="amax", include_self=True)
        shifted = torch.exp(score - row_max[self.rows])
        row_sum = torch.zeros(n_rows, device=score.device).index_add(0, self.rows, shifted)
        log_denominator = self.power * (torch.log(row_sum.clamp_min(torch.finfo(row_sum.dtype).tiny)) + row_max)
        weights = torch.exp(score - log_denominator[self.rows])
        return _SparseTimesDense.apply(weights, column_embeddings, self.rows, self.cols, self.transpose_order,
                                       n_rows)


class DELF(NeuralNetwork):
    """DELF-MLP (``fusion="mlp"``) or DELF-EF (``fusion="ef"``)."""

    def __init__(self, URM: sp.csr_matrix, device, rng: np.random.Generator, fusion: str, learning_rate: float,
                 num_negatives: int, batch_size: int, layers: tuple, regularization_layers: tuple, learner: str):
        super().__init__()
        if fusion not in ("mlp", "ef"):
            raise ValueError(f"fusion must be 'mlp' or 'ef', got {fusion!r}")
        if learner != "adam":
            raise ValueError(f"DELF trains with learner='adam' only (as the reference), got {learner!r}")
        if any(regularization_layers):
            raise ValueError("DELF has no layer regularisation (the reference ignored regularization_layers)")
        n_users, n_items = URM.shape
        size = layers[0] // 2
        self.fusion = fusion
        self.user_embeddings = torch.nn.Parameter(torch.empty(n_users, size))
        self.item_embeddings = torch.nn.Parameter(torch.empty(n_items, size))
        self.user_embeddings_mlp = torch.nn.Parameter(torch.empty(n_users, size))
        self.item_embeddings_mlp = torch.nn.Parameter(torch.empty(n_items, size))
        for table in (self.user_embeddings, self.item_embeddings, self.user_embeddings_mlp, self.item_embeddings_mlp):
            torch.nn.init.xavier_uniform_(table)
        self.item_attention, self.user_attention = _attention_net(size), _attention_net(size)
        power = 0.5 if fusion == "mlp" else 1.0
        self.user_side, self.item_side = _Attention(URM, power), _Attention(URM.T.tocsr(), power)
        hidden = (layers[1] // 2, layers[2] // 2)
        self.towers = torch.nn.ModuleList(
            torch.nn.ModuleList([_dense_layer(2 * size, hidden[0]), _dense_layer(*hidden)]) for _ in range(4))
        head_in = 4 * hidden[1] if fusion == "mlp" else hidden[1]
        self.head = torch.nn.ModuleList([_dense_layer(head_in, layers[-1]), _dense_layer(layers[-1], 1)])
        for name, axis in (("alpha_user", 1), ("alpha_item", 0)):  # DELF-EF's mixing weights
            alpha = np.clip(np.sqrt(np.asarray(URM.sum(axis=axis)).ravel()) / 2, 0, 1).astype(np.float32)
            self.register_buffer(name, torch.from_numpy(alpha), persistent=False)
        self.positives = positive_pairs(URM)
        self.sampler, self.rng, self.device = NegativeSampler(URM), rng, device
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate, foreach=True)

    def attentive_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users x e, items x e)``: every user's and item's attentive embedding."""
        item_attention = self.item_attention(self.item_embeddings).squeeze(1)
        user_attention = self.user_attention(self.user_embeddings).squeeze(1)
        return (self.user_side(item_attention, self.item_embeddings),
                self.item_side(user_attention, self.user_embeddings))

    def _first_layers(self, users, items, attentive):
        """Each tower's first-layer pre-activations split into a user part and an item part."""
        user, user_att = self.user_embeddings_mlp[users], attentive[0][users]
        item, item_att = self.item_embeddings_mlp[items], attentive[1][items]
        user_inputs, item_inputs = (user, user_att, user, user_att), (item, item, item_att, item_att)
        parts = []
        for tower, user_x, item_x in zip(self.towers, user_inputs, item_inputs):
            weight, bias = tower[0].weight, tower[0].bias
            size = user_x.shape[1]
            parts.append((user_x @ weight[:, :size].T + bias, item_x @ weight[:, size:].T))
        return parts

    def _logits(self, parts, users, items, user_shape, item_shape):
        """Logits from the split first layers; ``user_shape``/``item_shape`` broadcast users against items."""
        outputs = []
        for tower, (user_part, item_part) in zip(self.towers, parts):
            hidden = F.relu(user_part.reshape(*user_shape, -1) + item_part.reshape(*item_shape, -1))
            outputs.append(F.relu(tower[1](hidden)))
        if self.fusion == "mlp":
            x = torch.cat(outputs, dim=-1)
        else:
            a_u = self.alpha_user[users].reshape(*user_shape, 1)
            a_i = self.alpha_item[items].reshape(*item_shape, 1)
            x = (outputs[0] * a_u * a_i + outputs[1] * (1 - a_u) * a_i + outputs[2] * a_u * (1 - a_i)
                 + outputs[3] * (1 - a_u) * (1 - a_i))
        return self.head[1](F.relu(self.head[0](x))).squeeze(-1)

    def run_epoch(self) -> float:
        users, items = self.positives
        negative_users = np.repeat(users, self.num_negatives)
        all_users = np.concatenate([users, negative_users])
        all_items = np.concatenate([items, self.sampler.sample(negative_users, self.rng)])
        labels = np.concatenate([np.ones(users.size, np.float32), np.zeros(negative_users.size, np.float32)])
        order = self.rng.permutation(all_users.size)
        batch_len = all_users.size // self.batch_size
        if batch_len == 0:
            raise ValueError(f"DELF needs at least batch_size={self.batch_size} training instances, "
                             f"got {all_users.size}")
        losses = []
        for batch in range(self.batch_size):
            index = order[batch * batch_len : (batch + 1) * batch_len]
            self.optimizer.zero_grad()
            losses.append(self._train_step(all_users[index], all_items[index], labels[index]))
            torch.nn.utils.clip_grad_value_(self.parameters(), 0.1)
            self.optimizer.step()
        return float(np.mean(losses))

    def _train_step(self, users: np.ndarray, items: np.ndarray, labels: np.ndarray) -> float:
        """Gradients of the mean log loss of one batch, accumulated over chunks of at most
        ``TRAIN_CHUNK_ROWS`` rows (the same gradient as one pass, in bounded memory)."""
        user_att, item_att = self.attentive_embeddings()
        attentive = (user_att.detach().requires_grad_(), item_att.detach().requires_grad_())
        total = 0.0
        for start in range(0, users.size, TRAIN_CHUNK_ROWS):
            u, i = (torch.from_numpy(a[start : start + TRAIN_CHUNK_ROWS]).to(self.device) for a in (users, items))
            y = torch.from_numpy(labels[start : start + TRAIN_CHUNK_ROWS]).to(self.device)
            parts = self._first_layers(u, i, attentive)
            logits = self._logits(parts, u, i, (u.numel(),), (i.numel(),))
            loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / users.size
            loss.backward()
            total += loss.item()
        torch.autograd.backward([user_att, item_att], [attentive[0].grad, attentive[1].grad])
        return total

    def score_pair_width(self) -> int:
        """Floats a scoring chunk holds per (user, item) pair: a tower's first layer (then the
        head's hidden layer, in the same buffer), a tower's output, and the fused towers."""
        first, second = self.towers[0][0].out_features, self.towers[0][1].out_features
        fused = self.head[0].in_features
        return max(first, self.head[0].out_features) + second + fused

    @torch.no_grad()
    def score_block(self, user_ids: np.ndarray) -> torch.Tensor:
        """Logits of the users against every item, as ``_logits`` computes them, chunk by chunk of
        users through three buffers allocated once per call (no tensor is allocated per chunk)."""
        n_items, n_users = self.item_embeddings.shape[0], len(user_ids)
        users = torch.from_numpy(np.asarray(user_ids, dtype=np.int64)).to(self.device)
        attentive = self.cached("attentive", self.attentive_embeddings)
        parts = self._first_layers(users, torch.arange(n_items, device=self.device), attentive)
        chunk = max(1, SCORE_CHUNK_ELEMENTS // (n_items * self.score_pair_width()))
        pairs = min(chunk, n_users) * n_items
        first, second = self.towers[0][0].out_features, self.towers[0][1].out_features
        hidden = torch.empty(pairs * max(first, self.head[0].out_features), device=self.device)
        outputs = torch.empty(pairs, second, device=self.device)
        fused_outputs = torch.empty(pairs, self.head[0].in_features, device=self.device)
        if self.fusion == "ef":
            a_u, a_i = self.alpha_user[users].reshape(-1, 1, 1), self.alpha_item.reshape(1, -1, 1)
            mixing = ((a_u, a_i), (1 - a_u, a_i), (a_u, 1 - a_i), (1 - a_u, 1 - a_i))
        scores = torch.empty(n_users, n_items, device=self.device)
        for start in range(0, n_users, chunk):
            rows = slice(start, min(start + chunk, n_users))
            block = rows.stop - rows.start
            output, fused = outputs[: block * n_items], fused_outputs[: block * n_items]
            for k, (tower, (user_part, item_part)) in enumerate(zip(self.towers, parts)):
                tower_hidden = hidden[: block * n_items * first].view(block, n_items, first)
                torch.add(user_part[rows, None, :], item_part[None, :, :], out=tower_hidden).relu_()
                torch.addmm(tower[1].bias, tower_hidden.view(-1, first), tower[1].weight.T, out=output).relu_()
                if self.fusion == "mlp":
                    fused[:, k * second : (k + 1) * second] = output
                else:
                    weight_user, weight_item = mixing[k]
                    output.view(block, n_items, second).mul_(weight_user[rows]).mul_(weight_item)
                    if k == 0:
                        fused.copy_(output)
                    else:
                        fused.add_(output)
            head_hidden = hidden[: block * n_items * self.head[0].out_features].view(block * n_items, -1)
            torch.addmm(self.head[0].bias, fused, self.head[0].weight.T, out=head_hidden).relu_()
            torch.addmm(self.head[1].bias, head_hidden, self.head[1].weight.T, out=scores[rows].view(-1, 1))
        return scores
