"""Regularized evolution: tournament selection and aging against hand-worked cases."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mdlnas.strategies import ArchitectureCoding, Budget, Choices, Problem, Trial
from mdlnas.strategies.evolution import (
    EvolutionConfig,
    Member,
    RegularizedEvolution,
    mutate,
    op_mutation,
    sample_indices,
    tournament_winner,
)

TrialMaker = Callable[[Choices, float], Trial]


def test_tournament_winner_is_the_best_of_the_sample_not_of_the_population() -> None:
    objectives = [0.5, 0.1, 0.9, 0.3]
    assert tournament_winner(objectives, [0, 2, 3]) == 3  # 0.1 (index 1) was not sampled
    assert tournament_winner(objectives, [2, 0]) == 0
    assert tournament_winner([0.2, 0.2, 0.4], [1, 0]) == 1  # ties: the first sampled


def test_samples_are_distinct_and_capped_by_the_population() -> None:
    rng = np.random.default_rng(0)
    drawn = sample_indices(rng, 5, 3)
    assert len(set(drawn)) == 3 and all(0 <= i < 5 for i in drawn)
    assert sorted(sample_indices(rng, 2, 3)) == [0, 1]


def _evolution(problem: Problem, coding: ArchitectureCoding, population: int, sample: int
               ) -> RegularizedEvolution:
    strategy = RegularizedEvolution(config=EvolutionConfig(population, sample))
    strategy.coding, strategy.rng = coding, np.random.default_rng(0)
    strategy.budget = Budget(max_evaluations=100)
    strategy.start(problem)
    return strategy


def test_aging_removes_the_oldest_member_even_when_it_is_the_best(
    problem: Problem, coding: ArchitectureCoding, make_trial: TrialMaker
) -> None:
    evo = _evolution(problem, coding, population=3, sample=3)  # the sample is everyone
    a, b, c, d = (0, 0, 0), (1, 1, 1), (2, 2, 2), (0, 1, 2)
    for choices, objective in ((a, 0.1), (b, 0.5), (c, 0.9)):
        evo.ask()  # the random first population
        evo.tell(make_trial(choices, objective))
    child = evo.ask()
    assert evo.last_parent == Member(a, 0.1)  # the best of the whole population
    assert child != a
    evo.tell(make_trial(d, 0.7))
    assert list(evo.population) == [Member(b, 0.5), Member(c, 0.9), Member(d, 0.7)]
    evo.ask()
    assert evo.last_parent == Member(b, 0.5)  # a, the best ever, has aged out


def test_population_is_capped_at_half_an_evaluation_budget(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    evo = RegularizedEvolution(config=EvolutionConfig(population_size=10, sample_size=3))
    evo.coding, evo.rng, evo.budget = coding, np.random.default_rng(0), Budget(max_evaluations=6)
    evo.start(problem)
    assert (evo.population_size, evo.sample_size) == (3, 3)


def test_a_child_differs_by_one_op_or_by_two_swapped_inputs_of_one_node(
    coding: ArchitectureCoding,
) -> None:
    rng = np.random.default_rng(1)
    parent = (0, 1, 2)  # edges (0,1) (0,2) (1,2)
    kinds = set()
    for _ in range(200):
        child = mutate(parent, coding, rng)
        changed = [i for i in range(3) if child[i] != parent[i]]
        if len(changed) == 1:
            kinds.add("op")
        else:  # the two inputs of node 2 trade their ops
            assert changed == [1, 2] and (child[1], child[2]) == (parent[2], parent[1])
            kinds.add("input")
    assert kinds == {"op", "input"}


def test_op_mutation_changes_exactly_one_decision(coding: ArchitectureCoding) -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        child = op_mutation((3, 3, 3), coding, rng)
        assert sum(c != 3 for c in child) == 1
