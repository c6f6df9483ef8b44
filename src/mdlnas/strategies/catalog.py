"""The strategy registry, filled explicitly and in one place.

Every entry is a factory ``(StrategySettings) -> Strategy``; a new strategy is one module
and one line here, and the tests parametrised over :data:`STRATEGIES` pick it up.
"""

from __future__ import annotations

from collections.abc import Callable

from mdlnas.registry import Registry
from mdlnas.strategies.base import Strategy, StrategySettings
from mdlnas.strategies.bilevel import DartsSearch, FamilySearch, MdlSearch
from mdlnas.strategies.blockqnn import BlockQnn
from mdlnas.strategies.enas import Enas
from mdlnas.strategies.evolution import RegularizedEvolution
from mdlnas.strategies.hierarchical import HierarchicalEvolution
from mdlnas.strategies.random_search import RandomSearch

StrategyFactory = Callable[[StrategySettings], Strategy]

STRATEGIES: Registry[StrategyFactory] = Registry("search strategy")

# The order the comparison reports them in: the seed's method, its ablation, the baselines.
STRATEGY_ORDER = ("mdl", "family", "darts", "random", "evolution", "hierarchical", "enas",
                  "blockqnn")

for _strategy in (MdlSearch, FamilySearch, DartsSearch, RandomSearch, RegularizedEvolution,
                  HierarchicalEvolution, Enas, BlockQnn):
    STRATEGIES.register(_strategy.name)(_strategy)


def make_strategy(name: str, settings: StrategySettings | None = None) -> Strategy:
    """The strategy registered as ``name``, with ``settings`` (defaults if None)."""
    return STRATEGIES.get(name)(settings or StrategySettings())
