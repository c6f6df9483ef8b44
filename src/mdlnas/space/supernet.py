"""The supernet: every architecture of a space at once, mixed by α.

Architecture parameters live here and only here (``alpha_normal``, ``alpha_reduce``);
:meth:`Supernet.arch_parameters` and :meth:`Supernet.weight_parameters` partition the
parameters so that α never reaches the weight optimiser.

Weight sharing (ENAS, random search with shared weights) runs one discrete path of the
supernet instead: :meth:`Supernet.forward_path` and :meth:`Supernet.path_description_length`
take a genotype of the same space and use only the ops it names, with the supernet's weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.cell import SearchCell, cell_edges
from mdlnas.space.frame import NetworkFrame, Task
from mdlnas.space.genotype import Genotype
from mdlnas.space.variational import total_kl

PathChoices = dict[str, tuple[int | None, ...]]  # cell type -> op index per edge (None: no edge)


class Supernet(NetworkFrame):
    def __init__(
        self,
        space: SpaceConfig,
        input_shape: tuple[int, ...],
        output_dim: int,
        task: Task,
        bayes: BayesConfig,
    ) -> None:
        super().__init__(space, input_shape, output_dim, task, bayes)
        self.cells = nn.ModuleList(
            SearchCell(space.ops, space.n_nodes, space.dim, width, bayes, reduction)
            for width, reduction in self.plan
        )
        shape = (space.n_edges, len(space.ops))
        # Small random α, as in DARTS: near-uniform mixing with ties broken by chance.
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(shape))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(shape)) if any(
            reduction for _, reduction in self.plan
        ) else None

    # -- parameters --------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        return [a for a in (self.alpha_normal, self.alpha_reduce) if a is not None]

    def arch_names(self) -> list[str]:
        return ["alpha_normal"] + (["alpha_reduce"] if self.alpha_reduce is not None else [])

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(a) for a in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def mixing_weights(self) -> dict[str, Tensor]:
        """γ = softmax(α) per cell type, ``(n_edges, n_ops)`` each."""
        out = {"normal": torch.softmax(self.alpha_normal, dim=-1)}
        if self.alpha_reduce is not None:
            out["reduce"] = torch.softmax(self.alpha_reduce, dim=-1)
        return out

    # -- model -------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        gammas = self.mixing_weights()
        x = self.stem(x)  # (B, C, *spatial) or (B, C)
        for transition, cell, (_, reduction) in zip(
            self.transitions, self.cells, self.plan, strict=True
        ):
            x = cell(transition(x), gammas["reduce" if reduction else "normal"])
        return self.head(x)  # (B, output_dim)

    def description_length(self) -> Tensor:
        """Expected description length in nats:
        ``KL(always-present weights) + Σ_e Σ_o γ_e,o · KL_e,o``."""
        gammas = self.mixing_weights()
        total = self.fixed_kl().to(self.alpha_normal.dtype)
        for cell, (_, reduction) in zip(self.cells, self.plan, strict=True):
            assert isinstance(cell, SearchCell)
            total = total + cell.expected_kl(gammas["reduce" if reduction else "normal"])
        return total

    # -- one discrete path (weight sharing) --------------------------------------------
    def path(self, genotype: Genotype) -> PathChoices:
        """The op index (into ``space.ops``) of every edge of each cell type of ``genotype``."""
        if genotype.space != self.space:
            raise GenotypeError(
                f"the genotype is of space {genotype.space.name!r} with other settings than "
                f"this supernet's {self.space.name!r}; a path must come from the same space"
            )
        out: PathChoices = {}
        for kind, cell in genotype.cells().items():
            chosen = {(e.src, e.dst): self.space.ops.index(e.op) for e in cell.edges}
            out[kind] = tuple(chosen.get(edge) for edge in cell_edges(cell.n_nodes))
        return out

    def forward_path(self, x: Tensor, genotype: Genotype) -> Tensor:
        """The network of ``genotype`` run on the supernet's shared weights."""
        paths = self.path(genotype)
        x = self.stem(x)  # (B, C, *spatial) or (B, C)
        for transition, cell, (_, reduction) in zip(
            self.transitions, self.cells, self.plan, strict=True
        ):
            assert isinstance(cell, SearchCell)
            x = cell.forward_path(transition(x), paths["reduce" if reduction else "normal"])
        return self.head(x)  # (B, output_dim)

    def path_description_length(self, genotype: Genotype) -> Tensor:
        """Description length (nats) of the path's weights: the frame's plus every op the
        genotype names, each in full (a discrete network has no γ to weigh them by)."""
        paths = self.path(genotype)
        total = self.fixed_kl()
        for cell, (_, reduction) in zip(self.cells, self.plan, strict=True):
            assert isinstance(cell, SearchCell)
            for op in cell.path_ops(paths["reduce" if reduction else "normal"]):
                if any(True for _ in op.parameters()):
                    total = total + total_kl(op)
        return total
