"""A standalone network built from a genotype alone: the searched cells, discretised."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig
from mdlnas.space.frame import NetworkFrame
from mdlnas.space.genotype import CellGenotype, Genotype
from mdlnas.space.ops import OpContext, build_op
from mdlnas.space.variational import VariationalParameter, total_kl


class DerivedCell(nn.Module):
    """The genotype's edges of one cell; node ``j`` sums its incoming edges."""

    def __init__(
        self, cell: CellGenotype, dim: int, channels: int, bayes: BayesConfig, reduction: bool
    ) -> None:
        super().__init__()
        self.n_nodes = cell.n_nodes
        # Sources must be computed before their targets; a genotype may list edges in any order.
        self.edges = sorted(cell.edges, key=lambda e: (e.dst, e.src))
        self.ops = nn.ModuleList(
            build_op(e.op, OpContext(dim, channels, 2 if reduction and e.src == 0 else 1, bayes))
            for e in self.edges
        )

    def forward(self, x: Tensor) -> Tensor:
        nodes: dict[int, Tensor] = {0: x}
        for edge, op in zip(self.edges, self.ops, strict=True):
            out = op(nodes[edge.src])
            nodes[edge.dst] = nodes[edge.dst] + out if edge.dst in nodes else out
        return nodes[self.n_nodes]


class DerivedNetwork(NetworkFrame):
    def __init__(self, genotype: Genotype, bayes: BayesConfig | None = None) -> None:
        bayes = bayes or BayesConfig()
        super().__init__(
            genotype.space, genotype.input_shape, genotype.output_dim, genotype.task, bayes,
            deep=genotype.deep,
        )
        self.genotype = genotype
        cells = genotype.cells()
        self.cells = nn.ModuleList(
            DerivedCell(cells["reduce" if reduction else "normal"], genotype.space.dim, width,
                        bayes, reduction)
            for width, reduction in self.plan
        )

    def forward(self, x: Tensor) -> Tensor:
        if not self.deep:
            return self.linear_model(x)
        h = self.stem(x)
        for transition, cell in zip(self.transitions, self.cells, strict=True):
            h = cell(transition(h))
        return self.with_direct(x, self.head(h))  # (B, output_dim)

    def description_length(self) -> Tensor:
        """KL of all weights in nats: every weight of a derived network is present."""
        return total_kl(self)


def count_weights(module: nn.Module) -> int:
    """Number of weights a network uses at inference: posterior means count once (their
    σ is training state, not part of the deployed model); other parameters as they are."""
    total = 0
    seen: set[int] = set()
    for sub in module.modules():
        if isinstance(sub, VariationalParameter):
            total += sub.mu.numel()
            seen.update(id(p) for p in sub.parameters())
    for p in module.parameters():
        if id(p) not in seen:
            total += p.numel()
    return total


def nonzero_weights(module: nn.Module) -> int:
    """Like :func:`count_weights`, but weights set exactly to zero (pruned) are not counted."""
    total = 0
    seen: set[int] = set()
    for sub in module.modules():
        if isinstance(sub, VariationalParameter):
            total += int(torch.count_nonzero(sub.mu))
            seen.update(id(p) for p in sub.parameters())
    for p in module.parameters():
        if id(p) not in seen:
            total += int(torch.count_nonzero(p))
    return total
