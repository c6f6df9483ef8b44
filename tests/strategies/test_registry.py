"""Every registered strategy runs a tiny budget and returns a valid genotype of the space."""

from __future__ import annotations

import numpy as np
import pytest

from mdlnas.config import SearchConfig
from mdlnas.errors import RegistryError
from mdlnas.space.genotype import Genotype
from mdlnas.strategies import (
    STRATEGIES,
    STRATEGY_ORDER,
    Budget,
    CandidateStrategy,
    EvaluatorConfig,
    Problem,
    StrategySettings,
    make_strategy,
)

FAST = StrategySettings(
    evaluator=EvaluatorConfig(shared_steps=2, full_epochs=1, device="cpu"),
    search=SearchConfig(device="cpu"),
)


def test_the_issue_names_every_strategy() -> None:
    assert set(STRATEGIES.names()) == set(STRATEGY_ORDER) == {
        "mdl", "family", "darts", "random", "evolution", "hierarchical", "enas", "blockqnn"}
    with pytest.raises(RegistryError, match="valid names: blockqnn, darts"):
        make_strategy("bayesopt")


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategy_returns_a_valid_genotype_within_its_budget(
    name: str, problem: Problem
) -> None:
    x_before = problem.data.train.x.copy()
    result = make_strategy(name, FAST).run(problem, Budget(max_evaluations=4))
    genotype = result.genotype
    assert result.strategy == name
    assert genotype.space == problem.space and genotype.output_dim == 3
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert result.evaluations == 4 and result.search_seconds > 0
    if isinstance(make_strategy(name), CandidateStrategy):
        assert len(result.trials) == 4 and result.best is not None
        assert result.best.genotype == genotype
    np.testing.assert_array_equal(problem.data.train.x, x_before)  # the input is not modified


@pytest.mark.parametrize("name", ["evolution", "enas"])
def test_discrete_strategies_run_with_full_training(name: str, problem: Problem) -> None:
    settings = StrategySettings(evaluator=EvaluatorConfig(kind="full", full_epochs=1, device="cpu"))
    result = make_strategy(name, settings).run(problem, Budget(max_evaluations=2))
    assert len(result.trials) == 2
    assert result.best == min(result.trials, key=lambda t: t.evaluation.objective)


def test_a_time_budget_still_evaluates_one_candidate(problem: Problem) -> None:
    result = make_strategy("random", FAST).run(problem, Budget(max_seconds=1e-9))
    assert len(result.trials) == 1
