"""``NeuralRecommender``: the recommender contract around a PyTorch network.

Importing this module does not import torch: the registry lists the neural models on
machines without it, and ``fit`` raises ``TorchMissing`` (with the install command) there.
Each subclass names the module and class of its network; the network is built in
``_fit`` with the hyperparameters, trained by ``Recommenders.neural.training.train``,
and scores users through ``score_block``. Threads: ``RECZILLA_THREADS``, one on small data.
"""

import importlib

import numpy as np

from Recommenders.base import BaseRecommender
from Recommenders.neural.torch_runtime import import_torch, select_device
from Recommenders.threads import kernel_threads

#: Bytes the PyTorch runtime itself adds to a process (libraries, allocator pools) on CPU: the
#: import and a first small fit and evaluation raised the resident set by 266-286 MiB with
#: torch 2.13 (``benchmarks/memory_peak.py --cold``), plus a margin. A CUDA context is not counted.
TORCH_RUNTIME_BYTES = 384 * 1024**2
#: Rough operations per (user, item) cell of one epoch, to decide whether a second thread
#: pays off (``Recommenders.threads.kernel_threads``): on small data PyTorch's threads cost more
#: than they save, above all on a loaded machine (measured 16x slower with 2 threads).
TENSOR_WORK_PER_CELL = 100
#: Rows of pairwise training instances whose activations a network holds at once (DELF).
TRAIN_CHUNK_ROWS = 8192
#: Elements of the intermediate (user, item) pair tensors a network scores at once (DELF).
SCORE_CHUNK_ELEMENTS = 32 * 1024**2


class NeuralRecommender(BaseRecommender):
    """Base of the neural models: ``fit(URM, epochs=..., validation_metric=None, **options)``.

    ``validation_metric``, when given, is called with the recommender during training and
    returns the value early stopping maximises (the experiment passes validation NDCG).
    Fitted: ``network_`` (the torch module, best epoch restored), ``history_``
    (``TrainingHistory``: losses, validations, ``epochs_run``, ``best_epoch``), ``device_``.
    """

    #: ``(module, class)`` of the network, e.g. ``("Recommenders.neural.mult_vae", "MultVAE")``.
    network: tuple[str, str]
    #: Fixed constructor arguments of the network for this registry name (e.g. DELF's variant).
    network_options: dict = {}

    def _fit(self, URM_train, epochs: int, validation_metric=None, **options) -> None:
        torch = import_torch()
        verbose = options.pop("verbose", False)  # a fixed argument of DELF's entries only
        from Recommenders.neural.training import train  # imports torch

        self.device_ = select_device(torch)
        torch.set_num_threads(kernel_threads(TENSOR_WORK_PER_CELL * URM_train.shape[0] * URM_train.shape[1]))
        torch.manual_seed(self.seed)
        module_name, class_name = self.network
        network_class = getattr(importlib.import_module(module_name), class_name)
        rng = np.random.default_rng(self.seed)
        self.network_ = network_class(URM_train, device=self.device_, rng=rng, **self.network_options, **options)
        self.network_.to(self.device_)
        metric = None if validation_metric is None else (lambda: validation_metric(self))
        self.history_ = train(self.network_, epochs, metric, verbose=verbose)

    def _score(self, user_ids: np.ndarray) -> np.ndarray:
        torch = import_torch()
        with torch.no_grad():
            scores = self.network_.score_block(user_ids)
        return scores.to(device="cpu", dtype=torch.float32).numpy()
