"""Regularized (aging) evolution with tournament selection (Real et al. 2019, AmoebaNet).

    population ← P random candidates, each evaluated
    while the budget lasts:
        sample S members of the population uniformly (without replacement)
        parent ← the best of the sample                  # tournament selection
        child ← mutate(parent); evaluate child
        append child; remove the OLDEST member           # aging, not the worst
    return the best candidate ever evaluated

Mutations, one per child, each chosen with equal probability (the paper's two kinds):

- *op mutation*: one edge gets a different op (``zero`` included, so it also adds or
  removes an edge);
- *input mutation* (the paper's hidden-state mutation): a node moves one of its incoming
  ops to another of its inputs (the ops of two incoming edges of one node are swapped).
  Where no such swap changes anything, an op mutation is made instead, so a child always
  differs from its parent in its decisions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlnas.errors import ConfigError
from mdlnas.strategies.base import CandidateStrategy, StrategySettings, Trial
from mdlnas.strategies.encoding import ArchitectureCoding, Choices
from mdlnas.strategies.problem import Problem


@dataclass(frozen=True)
class EvolutionConfig:
    """``population_size`` P and ``sample_size`` S (the paper: 100 and 25 over 20,000
    models). With an evaluation budget N, P is capped at N // 2 (at least 2), so that half
    the budget at least goes to children rather than to the random first population."""

    population_size: int = 10
    sample_size: int = 3

    def __post_init__(self) -> None:
        for name in ("population_size", "sample_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Member:
    choices: Choices
    objective: float


def sample_indices(rng: np.random.Generator, population: int, size: int) -> list[int]:
    """``size`` distinct members (all of them if the population is smaller)."""
    return [int(i) for i in rng.choice(population, size=min(size, population), replace=False)]


def tournament_winner(objectives: Sequence[float], indices: Sequence[int]) -> int:
    """The sampled index with the lowest objective (the first sampled among equals)."""
    return min(indices, key=lambda i: objectives[i])


def mutate(choices: Choices, coding: ArchitectureCoding, rng: np.random.Generator) -> Choices:
    """A copy of ``choices`` with one op mutation or one input mutation (see the module)."""
    if rng.random() < 0.5:
        swapped = _input_mutation(choices, coding, rng)
        if swapped is not None:
            return swapped
    return op_mutation(choices, coding, rng)


def op_mutation(choices: Choices, coding: ArchitectureCoding, rng: np.random.Generator) -> Choices:
    """One decision set to a different op, uniformly among the others."""
    decision = int(rng.integers(len(choices)))
    others = [op for op in range(coding.n_ops) if op != choices[decision]]
    if not others:  # a space of one op has nothing to mutate
        return choices
    out = list(choices)
    out[decision] = int(rng.choice(others))
    return tuple(out)


def _input_mutation(
    choices: Choices, coding: ArchitectureCoding, rng: np.random.Generator
) -> Choices | None:
    """Swap the ops of two incoming edges of one random node; None if that changes nothing."""
    decision = int(rng.integers(len(choices)))
    kind, _, dst = coding.edge_of(decision)
    incoming = [d for d in range(len(choices)) if coding.edge_of(d)[0] == kind
                and coding.edge_of(d)[2] == dst]
    pairs = [(a, b) for a in incoming for b in incoming if a < b and choices[a] != choices[b]]
    if not pairs:
        return None
    a, b = pairs[int(rng.integers(len(pairs)))]
    out = list(choices)
    out[a], out[b] = out[b], out[a]
    return tuple(out)


class RegularizedEvolution(CandidateStrategy):
    name = "evolution"

    def __init__(
        self, settings: StrategySettings | None = None, config: EvolutionConfig | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config or EvolutionConfig()

    def start(self, problem: Problem) -> None:
        size = self.config.population_size
        if self.budget.max_evaluations is not None:
            size = min(size, max(2, self.budget.max_evaluations // 2))
        self.population_size = size
        self.sample_size = min(self.config.sample_size, size)
        self.population: deque[Member] = deque()
        self.told = 0
        self.last_parent: Member | None = None

    def ask(self) -> Choices:
        if self.told < self.population_size:  # the random first population
            self.last_parent = None
            return self.coding.random(self.rng)
        members = list(self.population)
        indices = sample_indices(self.rng, len(members), self.sample_size)
        self.last_parent = members[tournament_winner([m.objective for m in members], indices)]
        return mutate(self.last_parent.choices, self.coding, self.rng)

    def tell(self, trial: Trial) -> None:
        self.told += 1
        self.population.append(Member(trial.choices, trial.evaluation.objective))
        if len(self.population) > self.population_size:
            self.population.popleft()  # aging: the oldest goes, however good it was
