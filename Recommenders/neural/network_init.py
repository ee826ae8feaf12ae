"""Parameter initialisers of the reference's TensorFlow 1 code, for PyTorch tensors."""

import torch


def truncated_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """TensorFlow's ``truncated_normal``: normal values redrawn outside ``mean +- 2 std``."""
    return torch.nn.init.trunc_normal_(tensor, mean=mean, std=std, a=mean - 2 * std, b=mean + 2 * std)


