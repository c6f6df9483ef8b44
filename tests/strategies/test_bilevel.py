"""The mdl and darts adapters: an evaluation budget becomes the weight steps it is worth."""

from __future__ import annotations

from dataclasses import replace

from mdlnas.config import SearchConfig
from mdlnas.strategies import Budget, EvaluatorConfig, Problem, StrategySettings, make_strategy

SETTINGS = StrategySettings(evaluator=EvaluatorConfig(shared_steps=10, device="cpu"),
                            search=SearchConfig(device="cpu", tol=0.0))


def test_evaluations_become_whole_epochs_that_stay_within_the_budget(problem: Problem) -> None:
    # 60 training rows in batches of 16: 4 steps an epoch. 3 evaluations × 10 steps = 30
    # steps allow 7 epochs (28 steps), worth ceil(28 / 10) = 3 evaluations.
    result = make_strategy("darts", SETTINGS).run(problem, Budget(max_evaluations=3))
    assert result.details["epochs"] == 7 and result.evaluations == 3
    assert not result.details["converged"]


def test_darts_has_point_weights_and_mdl_charges_description_length(problem: Problem) -> None:
    darts = make_strategy("darts", SETTINGS).run(problem, Budget(max_evaluations=1))
    mdl = make_strategy("mdl", SETTINGS).run(problem, Budget(max_evaluations=1))
    assert darts.details["supernet_description_length_bits"] == 0.0
    assert mdl.details["supernet_description_length_bits"] > 0.0


def test_a_converged_search_stops_before_its_budget(problem: Problem) -> None:
    settings = replace(SETTINGS, search=SearchConfig(device="cpu", tol=1e9, patience=1))
    result = make_strategy("mdl", settings).run(problem, Budget(max_evaluations=100))
    # the calibration epochs (α frozen) come first; the first epoch in which α moves
    # already meets the rule
    calibration = settings.search.calibration_epochs
    assert result.details["epochs"] == calibration + 1 and result.details["converged"]
