"""What a trained network costs to run: multiply-accumulates per example."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mdlnas.space.variational import VariationalConv, VariationalLinear


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulate operations of one forward pass for one example, counted over
    the linear and convolutional layers (the rest is negligible next to them)."""
    total = 0

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        per_example = output[0].numel()
        if isinstance(module, VariationalLinear):
            total += per_example * module.weight.mu.shape[1]
        elif isinstance(module, VariationalConv):
            weight = module.weight.mu
            total += per_example * int(weight[0].numel())

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, VariationalLinear | VariationalConv)
    ]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=param.device, dtype=param.dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total
