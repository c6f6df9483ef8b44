"""The seed's own search as strategies: adapters around :class:`BilevelSearch`.

``mdl`` is the variational DARTS search charged by description length, with λ and ξ as
configured; ``darts`` is the same search with λ = 0 and point weights (Liu et al. 2019);
``family`` searches the whole complexity family at once (λ over ``lam_range``, by default
0.01:10) and returns its network of best validation metric (within ``max_weights`` /
``max_macs`` if set; :mod:`mdlnas.strategies.family`).
They have no candidates to count, so an evaluation budget becomes weight steps: a budget
of N evaluations allows as many epochs as N evaluations of the evaluator would have spent
on mini-batch updates (``weight_steps_per_evaluation``). A time budget stops them after
the epoch in which it runs out; the search's own convergence rule may stop them earlier.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace

from mdlnas.config import BUDGET_LAM_RANGE, SearchConfig
from mdlnas.search.darts import BilevelSearch
from mdlnas.space.genotype import Genotype
from mdlnas.strategies import family
from mdlnas.strategies.base import Strategy, StrategyResult
from mdlnas.strategies.evaluators import weight_steps_per_evaluation
from mdlnas.strategies.problem import Budget, BudgetClock, Problem


class BilevelStrategy(Strategy):
    """Runs :class:`BilevelSearch` epoch by epoch until its budget or convergence."""

    def search_config(self) -> SearchConfig:
        return self.settings.search

    def run(self, problem: Problem, budget: Budget) -> StrategyResult:
        clock = BudgetClock(budget)
        # The budget bounds the epochs here, not max_epochs.
        config = replace(self.search_config(), seed=problem.seed, max_epochs=sys.maxsize)
        state = BilevelSearch(problem.data, problem.space, config)
        steps_per_epoch = math.ceil(state.m / state.batch_size)
        steps_per_evaluation = weight_steps_per_evaluation(self.settings.evaluator, state.m)
        epoch_limit = None
        if budget.max_evaluations is not None:
            steps = budget.max_evaluations * steps_per_evaluation
            epoch_limit = max(1, steps // steps_per_epoch)  # never more than the budget
        while state.epoch == 0 or not (
            state.converged
            or (epoch_limit is not None and state.epoch >= epoch_limit)
            or clock.out_of_time()
        ):
            state.run_epoch()
        result = state.result()
        return StrategyResult(
            strategy=self.name,
            genotype=self.chosen(state, problem),
            search_seconds=clock.elapsed(),
            evaluations=math.ceil(state.epoch * steps_per_epoch / steps_per_evaluation),
            details={
                "epochs": result.epochs_run,
                "converged": result.converged,
                "val_metric": result.val_metric,
                "supernet_description_length_bits": result.description_length_bits,
            },
        )


    def chosen(self, state: BilevelSearch, problem: Problem) -> Genotype:
        """The network the search returns: the one derived from its α."""
        return state.genotype()


class MdlSearch(BilevelStrategy):
    name = "mdl"


class FamilySearch(BilevelStrategy):
    name = "family"

    def search_config(self) -> SearchConfig:
        search = self.settings.search
        return replace(search, lam_range=search.lam_range or BUDGET_LAM_RANGE)

    def chosen(self, state: BilevelSearch, problem: Problem) -> Genotype:
        return family.pick(state, problem.space).genotype


class DartsSearch(BilevelStrategy):
    name = "darts"

    def search_config(self) -> SearchConfig:
        search = self.settings.search
        return replace(search, lam=0.0, bayes=replace(search.bayes, variational=False))
