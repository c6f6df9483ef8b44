"""Hierarchical evolution (Liu et al. 2018): motifs built of lower-level motifs.

The paper's genotype is a hierarchy: level-1 motifs are primitive ops; a level-ℓ motif is
a small DAG whose edges carry level-(ℓ−1) motifs; the network is the top motif. Motifs
are shared, so one change to a low-level motif shows up wherever it is used. A cell space
puts exactly one op on an edge, so the hierarchy is mapped onto the cell as follows:

- level 1: the space's ops (``zero`` is the paper's "no edge");
- level 2: ``n_motifs`` *node motifs*, each a tuple of ``n_nodes`` level-1 ops; entry
  ``d`` is the op on the edge from the node ``d`` steps back (a node ``j`` reads the first
  ``j`` entries);
- level 3: the cell, in which every node picks a level-2 motif for its inputs (one such
  assignment per cell type; normal and reduction cells share the level-2 motifs).

Mutation works at any level, as in the paper: pick a level (2 or 3) uniformly, then at
level 2 replace one entry of one motif by a different op, at level 3 point one node of
one cell at a different motif. Search follows the paper: the population starts from
trivial genotypes (every motif an identity from the previous node, every node on motif
0), each diversified by ``init_mutations`` random mutations; then a tournament of
``tournament_fraction`` of the population (at least 2) picks a parent, its mutated copy is
evaluated and added, and nothing is ever removed. The best candidate evaluated is returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlnas.errors import ConfigError
from mdlnas.space.cell import cell_edges
from mdlnas.strategies.base import CandidateStrategy, StrategySettings, Trial
from mdlnas.strategies.encoding import ArchitectureCoding, Choices
from mdlnas.strategies.evolution import sample_indices, tournament_winner
from mdlnas.strategies.problem import Problem


@dataclass(frozen=True)
class HierarchicalConfig:
    """The paper used 6 level-2 motifs, 200 initial genotypes diversified by 1000
    mutations each, and tournaments of 5% of the population. The initial population is
    capped at half an evaluation budget (at least 2), as for regularized evolution."""

    n_motifs: int = 4
    initial_population: int = 10
    init_mutations: int = 20
    tournament_fraction: float = 0.05

    def __post_init__(self) -> None:
        for name in ("n_motifs", "initial_population"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.init_mutations, int) or self.init_mutations < 0:
            raise ConfigError(f"init_mutations must be 0 or more, got {self.init_mutations!r}")
        if not 0 < self.tournament_fraction <= 1:
            raise ConfigError(
                f"tournament_fraction must lie in (0, 1], got {self.tournament_fraction}"
            )


@dataclass(frozen=True)
class HierarchicalGenotype:
    motifs: tuple[tuple[int, ...], ...]  # level 2: op of the edge from d nodes back
    cells: tuple[tuple[int, ...], ...]  # level 3: per cell type, the motif of each node

    def flatten(self, n_nodes: int) -> Choices:
        """The decision sequence of the cells this hierarchy describes."""
        return tuple(
            self.motifs[cell[dst - 1]][dst - 1 - src]
            for cell in self.cells
            for src, dst in cell_edges(n_nodes)
        )


def trivial_genotype(coding: ArchitectureCoding, n_motifs: int) -> HierarchicalGenotype:
    """Every node adds its predecessor through identity (the paper's trivial genotype)."""
    ops = coding.space.ops
    identity = ops.index("identity") if "identity" in ops else next(
        i for i, op in enumerate(ops) if op != "zero"
    )
    absent = coding.zero_index if coding.zero_index is not None else identity
    n = coding.space.n_nodes
    motif = (identity,) + (absent,) * (n - 1)
    cell = (0,) * n
    return HierarchicalGenotype((motif,) * n_motifs, (cell,) * len(coding.cell_types))


def mutate_hierarchy(
    genotype: HierarchicalGenotype, n_ops: int, rng: np.random.Generator
) -> HierarchicalGenotype:
    """One mutation at a random level: a motif's entry (2) or a node's motif (3)."""
    levels = [level for level, possible in ((2, n_ops > 1), (3, len(genotype.motifs) > 1))
              if possible]
    if not levels:
        return genotype
    if int(rng.choice(levels)) == 2:
        k = int(rng.integers(len(genotype.motifs)))
        motif = list(genotype.motifs[k])
        d = int(rng.integers(len(motif)))
        motif[d] = _other(motif[d], n_ops, rng)
        return HierarchicalGenotype(_replaced(genotype.motifs, k, tuple(motif)), genotype.cells)
    c = int(rng.integers(len(genotype.cells)))
    cell = list(genotype.cells[c])
    node = int(rng.integers(len(cell)))
    cell[node] = _other(cell[node], len(genotype.motifs), rng)
    return HierarchicalGenotype(genotype.motifs, _replaced(genotype.cells, c, tuple(cell)))


def _replaced(
    items: tuple[tuple[int, ...], ...], index: int, value: tuple[int, ...]
) -> tuple[tuple[int, ...], ...]:
    return tuple(value if i == index else item for i, item in enumerate(items))


def _other(current: int, n: int, rng: np.random.Generator) -> int:
    """A value in ``0..n-1`` other than ``current``, uniformly."""
    value = int(rng.integers(n - 1))
    return value + 1 if value >= current else value


class HierarchicalEvolution(CandidateStrategy):
    name = "hierarchical"

    def __init__(
        self, settings: StrategySettings | None = None, config: HierarchicalConfig | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config or HierarchicalConfig()

    def start(self, problem: Problem) -> None:
        size = self.config.initial_population
        if self.budget.max_evaluations is not None:
            size = min(size, max(2, self.budget.max_evaluations // 2))
        self.initial_size = size
        self.population: list[tuple[HierarchicalGenotype, float]] = []
        self.pending: HierarchicalGenotype | None = None

    def ask(self) -> Choices:
        if len(self.population) < self.initial_size:
            genotype = trivial_genotype(self.coding, self.config.n_motifs)
            for _ in range(self.config.init_mutations):
                genotype = mutate_hierarchy(genotype, self.coding.n_ops, self.rng)
        else:
            genotype = mutate_hierarchy(self.parent(), self.coding.n_ops, self.rng)
        self.pending = genotype
        return genotype.flatten(self.coding.space.n_nodes)

    def parent(self) -> HierarchicalGenotype:
        """Tournament selection among a fraction of the (ever-growing) population."""
        n = len(self.population)
        size = min(n, max(2, math.ceil(self.config.tournament_fraction * n)))
        objectives: Sequence[float] = [objective for _, objective in self.population]
        return self.population[tournament_winner(objectives, sample_indices(self.rng, n, size))][0]

    def tell(self, trial: Trial) -> None:
        assert self.pending is not None, "tell() answers the candidate of the last ask()"
        self.population.append((self.pending, trial.evaluation.objective))
        self.pending = None
