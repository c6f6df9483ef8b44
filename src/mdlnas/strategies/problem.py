"""What a strategy searches (data, space, seed) and for how long (its budget)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from mdlnas.config import SpaceConfig
from mdlnas.data.bundle import DataBundle
from mdlnas.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    """One search: the data (the test part is never looked at), the space and the seed of
    every random choice a strategy and its evaluator make."""

    data: DataBundle
    space: SpaceConfig
    seed: int = 0


@dataclass(frozen=True)
class Budget:
    """How much search a strategy may do: candidate evaluations, wall-clock seconds, or
    both (whichever runs out first). The bilevel searches (``mdl``, ``darts``) turn an
    evaluation budget into as many weight steps as the evaluations would have taken."""

    max_evaluations: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_evaluations is None and self.max_seconds is None:
            raise ConfigError("a budget needs a number of evaluations or of seconds (or both)")
        n = self.max_evaluations
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ConfigError(f"the evaluation budget must be a positive integer, got {n!r}")
        s = self.max_seconds
        if s is not None and not (isinstance(s, int | float) and math.isfinite(s) and s > 0):
            raise ConfigError(f"the time budget must be a positive number of seconds, got {s!r}")

    def describe(self) -> str:
        parts = []
        if self.max_evaluations is not None:
            parts.append(f"{self.max_evaluations} evaluations")
        if self.max_seconds is not None:
            parts.append(f"{self.max_seconds:g} s")
        return " or ".join(parts)


class BudgetClock:
    """Counts a budget down from the moment it is made."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        limit = self.budget.max_seconds
        return limit is not None and self.elapsed() >= limit

    def exhausted(self, evaluations: int) -> bool:
        """True once ``evaluations`` reach the evaluation budget or the time is up."""
        limit = self.budget.max_evaluations
        return (limit is not None and evaluations >= limit) or self.out_of_time()
