"""The relaxed search space, read top-down: mixed op → search cell.

A cell is a DAG whose node 0 is the cell's input and whose last node is its output;
node ``j`` computes ``x_j = Σ_{i<j} ō_ij(x_i)`` (seed eq. 3) and every edge is a mixed op
``ō(x) = Σ_o γ_o · o(x)`` with ``γ = softmax(α_edge)`` (seed eq. 4).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mdlnas.config import BayesConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.ops import OpContext, Pool, build_op


def cell_edges(n_nodes: int) -> list[tuple[int, int]]:
    """Edge order shared by α, the cells and genotypes: by target node, then source."""
    return [(src, dst) for dst in range(1, n_nodes + 1) for src in range(dst)]


def connection_probability(present: Tensor, n_nodes: int) -> Tensor:
    """Probability that the cell's output node is reachable from its input when each edge
    (in :func:`cell_edges` order) is present independently with probability ``present[e]``
    (``1 - γ_zero``: γ read as a distribution over architectures).

    Nodes are visited in order, tracking which of the earlier nodes are fed: node ``j`` is
    fed unless every edge into it from a fed node is absent. The states are the subsets of
    nodes, 2^n_nodes of them (8 for the default 3 nodes); differentiable in ``present``."""
    index = {edge: k for k, edge in enumerate(cell_edges(n_nodes))}
    states: dict[frozenset[int], Tensor] = {frozenset({0}): present.new_ones(())}
    for node in range(1, n_nodes + 1):
        reached: dict[frozenset[int], Tensor] = {}
        for fed, probability in states.items():
            missing = torch.stack([1 - present[index[(src, node)]] for src in fed]).prod()
            for key, p in ((fed | {node}, probability * (1 - missing)),
                           (fed, probability * missing)):
                reached[key] = reached[key] + p if key in reached else p
        states = reached
    return torch.stack([p for fed, p in states.items() if n_nodes in fed]).sum()


def normalised(x: Tensor) -> Tensor:
    """``x`` normalised per channel over the batch (and positions), without running
    statistics or parameters. A sampled path's pooling edge passes through it, as every
    pooling edge of DARTS's search supernet passes through a non-affine BatchNorm: without
    it a path of stacked pools sums its inputs' scale at every node, so the frame's shared
    weights see a different scale on every draw, and the likelihood of such a path measures
    the scale rather than the cell. The derived network pools without it. One value per
    channel (a single row at 1×1 resolution) has nothing to normalise over: unchanged."""
    if x.numel() <= x.shape[1]:
        return x
    return F.batch_norm(x, None, None, training=True)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave ``groups`` equal blocks of channels: channel ``g·(C/groups) + i`` goes to
    ``i·groups + g`` (ShuffleNet's shuffle; PC-DARTS's after each partial edge)."""
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    return x.view(n, groups, c // groups, *spatial).transpose(1, 2).reshape(n, c, *spatial)


class MixedOp(nn.Module):
    """All candidate ops of one edge, mixed by the weights the caller passes in.

    With ``partial`` K above 1 (PC-DARTS's partial channels) the ops are built for C/K
    channels and see only the first C/K of the input's; the other channels pass the edge
    unchanged (max-pooled where the edge halves the resolution), are joined after the
    ops' output and the channels are shuffled, so that the next edge mixes other ones. The
    ops cost about K times less in the forward and backward passes. The description
    length of an op is then that of its C/K-wide copy times :attr:`dl_scales` (its weights
    at full width over its copy's): the copy's nats per weight stand for the full op's."""

    def __init__(self, op_names: tuple[str, ...], ctx: OpContext, partial: int = 1) -> None:
        super().__init__()
        self.op_names = op_names
        self.partial = partial
        self.dim, self.stride = ctx.dim, ctx.stride
        mixed = replace(ctx, channels=ctx.channels // partial) if partial > 1 else ctx
        # `zero` contributes nothing, so it is never computed; its weight still takes
        # probability mass away from the others through the softmax.
        self.active = [i for i, name in enumerate(op_names) if name != "zero"]
        self.ops = nn.ModuleList(build_op(op_names[i], mixed) for i in self.active)
        # for a sampled path that picks `zero`: zeros of the output's shape (no parameters)
        self.absent = build_op("zero", mixed) if "zero" in op_names else None
        self.dl_scales = [1.0] * len(self.active)
        if partial > 1:
            for k, i in enumerate(self.active):
                part = sum(p.numel() for p in self.ops[k].parameters())
                if part:
                    whole = build_op(op_names[i], ctx)  # counted, then dropped
                    self.dl_scales[k] = sum(p.numel() for p in whole.parameters()) / part

    def _mixed_channels(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The channels the ops see, and those that pass by (None without partial)."""
        if self.partial == 1:
            return x, None
        c = x.shape[1] // self.partial
        return x[:, :c], x[:, c:]

    def _joined(self, out: Tensor, passing: Tensor | None) -> Tensor:
        if passing is None:
            return out
        if self.stride == 2:
            pool = F.max_pool1d if self.dim == 1 else F.max_pool2d
            passing = pool(passing, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([out, passing], dim=1), self.partial)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        """``x``: an input tensor; ``weights``: ``(n_ops,)`` mixing weights (γ)."""
        seen, passing = self._mixed_channels(x)
        out: Tensor | None = None
        for i, op in zip(self.active, self.ops, strict=True):
            term = weights[i] * op(seen)
            out = term if out is None else out + term
        assert out is not None  # SpaceConfig guarantees an op other than zero
        return self._joined(out, passing)

    def forward_sampled(self, x: Tensor, weights: Tensor, choice: int) -> Tensor:
        """Only op ``choice``, times its weight (1 in value for a sampled path; its gradient
        carries α's, see :mod:`mdlnas.space.relaxation`)."""
        op = self.chosen(choice) if choice in self.active else self.absent
        assert op is not None  # a choice is an op of this edge
        seen, passing = self._mixed_channels(x)
        out: Tensor = op(seen)
        if isinstance(op, Pool):
            out = normalised(out)
        return self._joined(weights[choice] * out, passing)

    def forward_one(self, x: Tensor, op_index: int) -> Tensor:
        """Op ``op_index`` alone (a discrete path through the shared weights)."""
        seen, passing = self._mixed_channels(x)
        out: Tensor = self.chosen(op_index)(seen)
        return self._joined(out, passing)

    def chosen(self, op_index: int) -> nn.Module:
        """The module of candidate ``op_index`` (an index into ``op_names``, not ``zero``)."""
        if op_index not in self.active:
            raise GenotypeError(
                f"op index {op_index} is not a computed op of this edge ({self.op_names})"
            )
        return self.ops[self.active.index(op_index)]

    def dl_scale(self, op_index: int) -> float:
        """What op ``op_index``'s KL is multiplied by (1 unless the channels are partial)."""
        return self.dl_scales[self.active.index(op_index)]


class SearchCell(nn.Module):
    """One cell of the supernet: ``n_nodes`` nodes over mixed-op edges."""

    def __init__(
        self,
        op_names: tuple[str, ...],
        n_nodes: int,
        dim: int,
        channels: int,
        bayes: BayesConfig,
        reduction: bool = False,
        partial: int = 1,
    ) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.edges = cell_edges(n_nodes)
        self.mixed = nn.ModuleList(
            MixedOp(op_names, OpContext(dim, channels, 2 if reduction and src == 0 else 1, bayes),
                    partial)
            for src, _ in self.edges
        )

    def forward(self, x: Tensor, weights: Tensor,
                choices: Sequence[int] | None = None) -> Tensor:
        """``weights``: ``(n_edges, n_ops)`` softmax of the cell's α, or with ``choices``
        (one op index per edge) a sampled path's weights: each edge computes only its op."""
        nodes = [x]
        edge = 0
        for dst in range(1, self.n_nodes + 1):
            total: Tensor | None = None
            for src in range(dst):
                mixed = self.mixed[edge]
                assert isinstance(mixed, MixedOp)
                term = (mixed(nodes[src], weights[edge]) if choices is None
                        else mixed.forward_sampled(nodes[src], weights[edge], choices[edge]))
                total = term if total is None else total + term
                edge += 1
            assert total is not None
            nodes.append(total)
        return nodes[-1]

    # -- one discrete path (weight sharing: ENAS, random search with shared weights) -----
    def forward_path(self, x: Tensor, path: Sequence[int | None]) -> Tensor:
        """Only the ops ``path`` picks, one op index per edge (``None``: no edge).

        Unlike one-hot mixing weights, ops off the path are not run at all, so they get no
        gradient (``None``, not zero) and an optimiser leaves them alone."""
        nodes: dict[int, Tensor] = {0: x}
        for (src, dst), mixed, choice in zip(self.edges, self.mixed_ops(), path, strict=True):
            if choice is None:
                continue
            if src not in nodes:
                raise GenotypeError(f"edge {src}->{dst} leaves node {src}, which has no input")
            out = mixed.forward_one(nodes[src], choice)
            nodes[dst] = nodes[dst] + out if dst in nodes else out
        if self.n_nodes not in nodes:
            raise GenotypeError(f"the path leaves the output node {self.n_nodes} disconnected")
        return nodes[self.n_nodes]

    def path_ops(self, path: Sequence[int | None]) -> list[tuple[nn.Module, float]]:
        """The modules of the ops on ``path`` (what a standalone network of it would hold),
        each with its description length's scale (:attr:`MixedOp.dl_scales`)."""
        return [(m.chosen(c), m.dl_scale(c))
                for m, c in zip(self.mixed_ops(), path, strict=True) if c is not None]

    def mixed_ops(self) -> Iterator[MixedOp]:
        for m in self.mixed:
            assert isinstance(m, MixedOp)
            yield m
