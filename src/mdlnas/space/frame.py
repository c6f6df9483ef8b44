"""What every network of a space shares around its cells: stem, transitions, head.

The supernet and the standalone network built from a genotype differ only in their cells,
so both derive from :class:`NetworkFrame`. The frame's weights are present whenever the
cells are, so their KL is charged in full (``fixed_kl``).

Vector spaces (``dim`` 0, tables) also have a *direct path*: a linear layer from the
features to the output, added to the cells' output. The linear model is then one of the
space's architectures: the one whose cell is empty (no edge reaches its output), which
keeps the direct path alone and drops the stem and head (``deep=False``). A search pays
for the stem and head in proportion to the probability that the cell is connected.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, SpaceConfig, Task
from mdlnas.errors import ConfigError
from mdlnas.space.ops import batch_norm
from mdlnas.space.variational import VariationalConv, VariationalLinear, total_kl


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
        deep: bool = True,
    ) -> None:
        """``deep=False``: the direct path alone (a space with one; an empty cell)."""
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
        self.direct = (VariationalLinear(input_shape[0], output_dim, bayes)
                       if space.direct_path else None)
        if not deep and self.direct is None:
            raise ConfigError(f"space {space.name!r} has no direct path; a network of it "
                              "needs its cells")
        self.deep = deep
        self.stem: nn.Module = nn.Identity()
        self.transitions = nn.ModuleList()
        self.head_linear: VariationalLinear | None = None
        self.plan: list[tuple[int, bool]] = []
        if deep:
            self._build_deep(space, input_shape[0], output_dim, bayes)
        # Regression: Gaussian likelihood with a learned noise scale (a point parameter).
        self.log_noise = nn.Parameter(torch.zeros(())) if task == "regression" else None

    def _build_deep(
        self, space: SpaceConfig, in_channels: int, output_dim: int, bayes: BayesConfig
    ) -> None:
        """Stem, transitions and head: everything around the cells."""
        dim, c0 = space.dim, space.channels
        if dim == 0:
            self.stem = VariationalLinear(in_channels, c0, bayes)
        else:
            conv = VariationalConv(dim, in_channels, c0, 3, bayes, stride=space.stem_stride,
                                   padding=1)
            self.stem = nn.Sequential(conv, batch_norm(dim, c0))
        self.plan = channel_plan(space)
        previous = c0
        for width, _ in self.plan:
            if width == previous:
                self.transitions.append(nn.Identity())
            else:
                # Widening happens here, once, so every edge of a cell keeps its width.
                self.transitions.append(nn.Sequential(
                    nn.ReLU(), VariationalConv(dim, previous, width, 1, bayes),
                    batch_norm(dim, width),
                ))
            previous = width
        self.head_linear = VariationalLinear(previous, output_dim, bayes)

    def head(self, x: Tensor) -> Tensor:
        assert self.head_linear is not None, "a network without cells has no head"
        x = torch.relu(x)
        if x.dim() > 2:
            x = x.flatten(2).mean(-1)  # (B, C, *spatial) -> (B, C): global average pool
        out: Tensor = self.head_linear(x)
        return out  # (B, output_dim)

    def linear_model(self, x: Tensor) -> Tensor:
        """The direct path alone: the network of an empty cell, ``(B, output_dim)``."""
        assert self.direct is not None, "only a space with a direct path has a linear model"
        out: Tensor = self.direct(x)
        return out

    def with_direct(self, x: Tensor, out: Tensor) -> Tensor:
        """``out`` plus the direct path's output on the network's input ``x``."""
        return out if self.direct is None else out + self.direct(x)

    def fixed_kl(self) -> Tensor:
        """KL of the weights present whenever the cells are (stem, transitions, head;
        none without cells), nats; the direct path's is :meth:`direct_kl`."""
        # a sum, not a stack: an empty part's zero is on the CPU (0-dim tensors mix devices)
        total = total_kl(self.stem) + total_kl(self.transitions)
        return total + total_kl(self.head_linear) if self.head_linear is not None else total

    def direct_kl(self) -> Tensor:
        """KL of the direct path's weights (0 for a space without one), nats."""
        return total_kl(self.direct if self.direct is not None else nn.Identity())
