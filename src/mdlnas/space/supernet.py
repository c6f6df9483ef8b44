"""The supernet: every architecture of a space at once, mixed by α.

Architecture parameters live here and only here (``alpha_normal``, ``alpha_reduce``);
:meth:`Supernet.arch_parameters` and :meth:`Supernet.weight_parameters` partition the
parameters so that α never reaches the weight optimiser.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.space.cell import SearchCell
from mdlnas.space.frame import NetworkFrame, Task


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
