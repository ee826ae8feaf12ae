"""The one training loop of the neural models, with the reference's early stopping.

The rule is the reference's ``Incremental_Training_Early_Stopping`` with the settings its
``Experiment.py`` gives every neural model: after every ``VALIDATION_EVERY_N``-th epoch the
model is scored on validation; a strictly better value makes that epoch the best one (its
parameters are kept), and ``LOWER_VALIDATIONS_ALLOWED`` validations in a row without
improvement stop the training. At the end the best epoch's parameters are restored. Without
a validation metric every epoch runs and the last one is kept.

A model is a ``torch.nn.Module`` with ``run_epoch() -> float`` (mean training loss of one
epoch); the loop switches it between ``train()`` and ``eval()`` modes.
"""

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

VALIDATION_EVERY_N = 5
LOWER_VALIDATIONS_ALLOWED = 5


@dataclass
class TrainingHistory:
    """What a training did: losses per epoch, ``(epoch, value)`` per validation, the kept epoch,
    and its wall-clock and CPU seconds (all threads of the process)."""

    losses: list = field(default_factory=list)
    validations: list = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.losses)


def _snapshot(model: torch.nn.Module) -> dict:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def train(model: torch.nn.Module, epochs: int, validation_metric: Callable[[], float] | None = None,
          verbose: bool = False) -> TrainingHistory:
    """Train ``model`` for at most ``epochs`` epochs; with ``validation_metric`` (higher is
    better), stop early and restore the best epoch as described in the module docstring."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    history = TrainingHistory()
    best_value, best_state, lower_in_a_row = None, None, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(1, epochs + 1):
        model.train()
        loss = float(model.run_epoch())
        if not math.isfinite(loss):
            raise FloatingPointError(f"{type(model).__name__}: training loss is {loss} at epoch {epoch}")
        history.losses.append(loss)
        if verbose:
            print(f"{type(model).__name__}: epoch {epoch}, loss {loss:.4g}", file=sys.stderr)
        if validation_metric is None or epoch % VALIDATION_EVERY_N != 0:
            continue
        model.eval()
        value = float(validation_metric())
        if not math.isfinite(value):
            raise FloatingPointError(f"{type(model).__name__}: validation metric is {value} at epoch {epoch}")
        history.validations.append((epoch, value))
        if best_value is None or value > best_value:
            best_value, best_state, history.best_epoch, lower_in_a_row = value, _snapshot(model), epoch, 0
        else:
            lower_in_a_row += 1
            if lower_in_a_row >= LOWER_VALIDATIONS_ALLOWED:
                break
    if best_state is None:
        history.best_epoch = history.epochs_run
    else:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    history.cpu_seconds = time.process_time() - cpu_start
    return history


class NeuralNetwork(torch.nn.Module):
    """Base of the networks: subclasses define ``run_epoch() -> float`` (mean loss of one
    epoch) and ``score_block(user_ids) -> users x items tensor``.

    ``cached(key, compute)`` keeps a value derived from the parameters (e.g. every item's
    factors) between scoring calls in eval mode; any ``train()``/``eval()`` switch, which the
    training loop makes after every change of the parameters, drops it.
    """

    def train(self, mode: bool = True):
        self._scoring_cache = {}
        return super().train(mode)

    def cached(self, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        if self.training:
            return compute()
        cache = self.__dict__.setdefault("_scoring_cache", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]
