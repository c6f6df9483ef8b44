"""Candidates as flat sequences of decisions, the form every discrete strategy searches.

A candidate of a cell space is one op per edge of each cell type: the normal cell's edges
in :func:`~mdlnas.space.cell.cell_edges` order, then the reduction cell's (when the space
has one). A decision is an index into ``space.ops``; ``zero`` means the edge is absent.
Random search samples such sequences, evolution mutates them, the ENAS controller and the
BlockQNN agent emit them one decision at a time.

Decoding goes through the MDL derivation rule with one-hot mixing weights, so a sequence
maps to exactly the genotype the supernet's own derivation would give for that choice:
nodes left without input or without a path to the output are dropped, and a cell whose
output would be disconnected gets the edge ``0 -> output`` with the space's first op that
is not ``zero`` (several sequences can therefore decode to one genotype).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlnas.config import SpaceConfig, Task
from mdlnas.data.bundle import DataBundle
from mdlnas.errors import GenotypeError
from mdlnas.search.method import derive_genotype
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import CELL_TYPES, Genotype

Choices = tuple[int, ...]


@dataclass(frozen=True)
class ArchitectureCoding:
    """Maps decision sequences of one space and dataset to genotypes and back."""

    space: SpaceConfig
    task: Task
    input_shape: tuple[int, ...]
    output_dim: int

    @classmethod
    def for_data(cls, space: SpaceConfig, data: DataBundle) -> ArchitectureCoding:
        return cls(space, data.task, tuple(data.input_shape), data.output_dim)

    @property
    def cell_types(self) -> tuple[str, ...]:
        return CELL_TYPES if self.space.reduction_layers else CELL_TYPES[:1]

    @property
    def n_decisions(self) -> int:
        return len(self.cell_types) * self.space.n_edges

    @property
    def n_ops(self) -> int:
        return len(self.space.ops)

    @property
    def zero_index(self) -> int | None:
        """The decision that removes an edge, if the space has ``zero``."""
        return self.space.ops.index("zero") if "zero" in self.space.ops else None

    def edge_of(self, decision: int) -> tuple[str, int, int]:
        """``(cell type, src, dst)`` of the edge decision number ``decision`` sets."""
        kind = self.cell_types[decision // self.space.n_edges]
        src, dst = cell_edges(self.space.n_nodes)[decision % self.space.n_edges]
        return kind, src, dst

    def random(self, rng: np.random.Generator) -> Choices:
        """Every decision uniformly at random (each op, ``zero`` included, equally likely)."""
        return tuple(int(i) for i in rng.integers(0, self.n_ops, self.n_decisions))

    def check(self, choices: Sequence[int]) -> Choices:
        if len(choices) != self.n_decisions:
            raise GenotypeError(
                f"a candidate of space {self.space.name!r} has {self.n_decisions} decisions, "
                f"got {len(choices)}"
            )
        if any(not 0 <= c < self.n_ops for c in choices):
            raise GenotypeError(f"decisions must lie in 0..{self.n_ops - 1}, got {list(choices)}")
        return tuple(int(c) for c in choices)

    def decode(self, choices: Sequence[int]) -> Genotype:
        """The genotype of a decision sequence (see the module docstring)."""
        flat = self.check(choices)
        n_edges = self.space.n_edges
        gammas = {}
        for k, kind in enumerate(self.cell_types):
            one_hot = np.zeros((n_edges, self.n_ops))
            one_hot[np.arange(n_edges), flat[k * n_edges : (k + 1) * n_edges]] = 1.0
            gammas[kind] = one_hot
        return derive_genotype(
            gammas, self.space, self.task, self.input_shape, self.output_dim, rule="mdl"
        )

    def encode(self, genotype: Genotype) -> Choices:
        """The decision sequence that names exactly ``genotype``'s edges (absent: ``zero``)."""
        if genotype.space != self.space:
            raise GenotypeError("the genotype comes from another search space")
        absent = self.zero_index
        out: list[int] = []
        for kind in self.cell_types:
            cell = genotype.cells()[kind]
            chosen = {(e.src, e.dst): self.space.ops.index(e.op) for e in cell.edges}
            for edge in cell_edges(self.space.n_nodes):
                if edge in chosen:
                    out.append(chosen[edge])
                elif absent is not None:
                    out.append(absent)
                else:
                    raise GenotypeError(
                        f"edge {edge[0]}->{edge[1]} is absent but the space has no 'zero' op"
                    )
        return tuple(out)
