"""The one interface of every search strategy, and the ask / tell loop of the discrete ones.

Every strategy answers ``run(problem, budget) -> StrategyResult``. The bilevel searches
(``mdl``, ``darts``) implement ``run`` directly. The discrete strategies derive from
:class:`CandidateStrategy`, which owns the loop

    while the budget lasts:
        candidate = ask()                 # the strategy proposes a decision sequence
        evaluation = evaluator(candidate) # shared evaluator: weight sharing or full training
        tell(trial)                       # the strategy learns from the result
    select(trials)                        # the strategy names its final candidate

so a strategy is ``ask`` plus whichever no-op hooks (``start``, ``tell``, ``select``) it
needs, and every strategy is charged the same way for the same budget.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from mdlnas.config import SearchConfig
from mdlnas.space.genotype import Genotype
from mdlnas.strategies.encoding import ArchitectureCoding, Choices
from mdlnas.strategies.evaluators import Evaluation, Evaluator, EvaluatorConfig, make_evaluator
from mdlnas.strategies.problem import Budget, BudgetClock, Problem


@dataclass(frozen=True)
class StrategySettings:
    """What all strategies share: how candidates are evaluated, and the bilevel search's
    settings (used by ``mdl`` as they are and by ``darts`` with λ = 0 and point weights)."""

    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    search: SearchConfig = field(default_factory=SearchConfig)


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate; ``seconds`` since the search began, when it was scored."""

    number: int
    choices: Choices
    genotype: Genotype
    evaluation: Evaluation
    seconds: float


@dataclass(frozen=True)
class StrategyResult:
    """What a strategy found. ``evaluations`` is what it was charged (for the bilevel
    searches: the evaluations their weight steps are worth); ``best`` is the chosen trial
    with the scores it was chosen by (None for the bilevel searches)."""

    strategy: str
    genotype: Genotype
    search_seconds: float
    evaluations: int
    trials: tuple[Trial, ...] = ()
    best: Trial | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """A search strategy; ``name`` is its key in :data:`~mdlnas.strategies.STRATEGIES`."""

    name: ClassVar[str]

    def __init__(self, settings: StrategySettings | None = None) -> None:
        self.settings = settings or StrategySettings()

    @abstractmethod
    def run(self, problem: Problem, budget: Budget) -> StrategyResult:
        """Search ``problem`` within ``budget``; the problem's data is not modified."""


class CandidateStrategy(Strategy):
    """A strategy that proposes discrete candidates one at a time (ask / tell)."""

    coding: ArchitectureCoding
    rng: np.random.Generator
    budget: Budget

    def run(self, problem: Problem, budget: Budget) -> StrategyResult:
        clock = BudgetClock(budget)
        evaluator = make_evaluator(self.settings.evaluator, problem)
        self.coding = ArchitectureCoding.for_data(problem.space, problem.data)
        self.rng = np.random.default_rng(problem.seed)
        self.budget = budget
        self.start(problem)
        trials: list[Trial] = []
        # At least one candidate, however small the time budget: a search must return one.
        while not trials or not clock.exhausted(len(trials)):
            choices = self.coding.check(self.ask())
            genotype = self.coding.decode(choices)
            evaluation = evaluator.evaluate(genotype)
            trial = Trial(len(trials), choices, genotype, evaluation, clock.elapsed())
            trials.append(trial)
            self.tell(trial)
        best = self.select(trials, evaluator)
        return StrategyResult(
            strategy=self.name,
            genotype=best.genotype,
            search_seconds=clock.elapsed(),
            evaluations=evaluator.evaluations,
            trials=tuple(trials),
            best=best,
            details={"best_objective": best.evaluation.objective},
        )

    # -- the strategy ------------------------------------------------------------------
    def start(self, problem: Problem) -> None:
        """Hook: set up the strategy's state (``coding``, ``rng`` and ``budget`` are set)."""

    @abstractmethod
    def ask(self) -> Choices:
        """The next candidate to evaluate, as a decision sequence of ``self.coding``."""

    def tell(self, trial: Trial) -> None:
        """Hook: learn from the evaluation of the candidate the last ``ask`` proposed."""

    def select(self, trials: Sequence[Trial], evaluator: Evaluator) -> Trial:
        """Hook: the final candidate; by default the one with the lowest objective."""
        return best_trial(trials)


def best_trial(trials: Sequence[Trial]) -> Trial:
    """The trial with the lowest objective (the earliest among equals)."""
    return min(trials, key=lambda t: (t.evaluation.objective, t.number))


def rescored_best(trials: Sequence[Trial], evaluator: Evaluator) -> Trial:
    """The best of ``trials`` when each distinct genotype is scored again with the
    evaluator's final weights (weight sharing); the plain best if it cannot rescore."""
    if not evaluator.can_rescore:
        return best_trial(trials)
    first: dict[Genotype, Trial] = {}
    for trial in trials:
        first.setdefault(trial.genotype, trial)
    return best_trial([replace(t, evaluation=evaluator.rescore(t.genotype))
                       for t in first.values()])
