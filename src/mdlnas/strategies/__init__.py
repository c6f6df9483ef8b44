"""Search strategies behind one interface, compared on the same spaces and budget.

``mdl`` (the seed's variational DARTS) and ``darts`` adapt the bilevel search; ``random``,
``evolution``, ``hierarchical``, ``enas`` and ``blockqnn`` propose discrete candidates
scored by a shared evaluator (weight sharing or full training). docs/STRATEGIES.md says
what each keeps from its paper and what it adapts to the cell space.

Layering: this package sits above ``search`` and ``train`` (the full-training evaluator
retrains candidates) and below the ``compare`` workflow and the CLI.
"""

from mdlnas.strategies.base import (
    CandidateStrategy,
    Strategy,
    StrategyResult,
    StrategySettings,
    Trial,
)
from mdlnas.strategies.catalog import STRATEGIES, STRATEGY_ORDER, make_strategy
from mdlnas.strategies.encoding import ArchitectureCoding, Choices
from mdlnas.strategies.evaluators import Evaluation, EvaluatorConfig, make_evaluator
from mdlnas.strategies.problem import Budget, Problem

__all__ = [
    "STRATEGIES",
    "STRATEGY_ORDER",
    "ArchitectureCoding",
    "Budget",
    "CandidateStrategy",
    "Choices",
    "Evaluation",
    "EvaluatorConfig",
    "Problem",
    "Strategy",
    "StrategyResult",
    "StrategySettings",
    "Trial",
    "make_evaluator",
    "make_strategy",
]
