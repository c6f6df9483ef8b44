"""What every network of a space shares around its cells: stem, transitions, head.

The supernet and the standalone network built from a genotype differ only in their cells,
so both derive from :class:`NetworkFrame`. The frame's weights are always present, so
their KL is charged in full (``fixed_kl``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import ConfigError
from mdlnas.space.variational import VariationalConv, VariationalLinear, total_kl

Task = Literal["classification", "regression"]


def _norm(dim: int, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels, affine=False) if dim == 2 else nn.BatchNorm1d(
        channels, affine=False
    )


def channel_plan(space: SpaceConfig) -> list[tuple[int, bool]]:
    """``(channels, is_reduction)`` of every cell: a reduction cell widens by the growth."""
    width, plan = space.channels, []
    for layer in range(space.layers):
        reduction = layer in space.reduction_layers
        if reduction:
            width *= space.channel_growth
        plan.append((width, reduction))
    return plan


class NetworkFrame(nn.Module):
    """Stem → [transition → cell]* → head, with the cells left to subclasses."""

    def __init__(
        self,
        space: SpaceConfig,
        input_shape: tuple[int, ...],
        output_dim: int,
        task: Task,
        bayes: BayesConfig,
    ) -> None:
        super().__init__()
        if len(input_shape) != space.dim + 1:
            kinds = {1: "tabular (features,)", 2: "signals (channels, length)",
                     3: "images (channels, height, width)"}
            raise ConfigError(
                f"space {space.name!r} expects {kinds[space.dim + 1]} inputs, but the data "
                f"has samples of shape {tuple(input_shape)}; pick a space that fits the data"
            )
        self.space, self.input_shape, self.output_dim = space, tuple(input_shape), output_dim
        self.task, self.bayes = task, bayes
        dim, c0 = space.dim, space.channels
        if dim == 0:
            self.stem: nn.Module = VariationalLinear(input_shape[0], c0, bayes)
        else:
            conv = VariationalConv(dim, input_shape[0], c0, 3, bayes, padding=1)
            self.stem = nn.Sequential(conv, _norm(dim, c0))
        self.plan = channel_plan(space)
        transitions: list[nn.Module] = []
        previous = c0
        for width, _ in self.plan:
            if width == previous:
                transitions.append(nn.Identity())
            else:
                # Widening happens here, once, so every edge of a cell keeps its width.
                transitions.append(nn.Sequential(
                    nn.ReLU(), VariationalConv(dim, previous, width, 1, bayes), _norm(dim, width)
                ))
            previous = width
        self.transitions = nn.ModuleList(transitions)
        self.head_linear = VariationalLinear(previous, output_dim, bayes)
        # Regression: Gaussian likelihood with a learned noise scale (a point parameter).
        self.log_noise = nn.Parameter(torch.zeros(())) if task == "regression" else None

    def head(self, x: Tensor) -> Tensor:
        x = torch.relu(x)
        if x.dim() > 2:
            x = x.flatten(2).mean(-1)  # (B, C, *spatial) -> (B, C): global average pool
        out: Tensor = self.head_linear(x)
        return out  # (B, output_dim)

    def fixed_kl(self) -> Tensor:
        """KL of the weights every architecture has (stem, transitions, head), nats."""
        return total_kl(self.stem) + total_kl(self.transitions) + total_kl(self.head_linear)
