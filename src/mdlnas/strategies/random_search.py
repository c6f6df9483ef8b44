"""Random search with weight sharing (Li & Talwalkar 2019).

Every candidate is drawn uniformly: each edge of each cell type independently takes any
of the space's ops, ``zero`` (no edge) included. With the weight-sharing evaluator each
draw trains the shared weights on its own path for a few mini-batches, so the shared
weights are trained on uniformly random architectures, as in the paper; when the budget is
spent every distinct candidate is scored again with the final shared weights and the best
is returned (the paper's second stage, which ranks architectures with the trained weights).
With the full-training evaluator it is plain random search.
"""

from __future__ import annotations

from collections.abc import Sequence

from mdlnas.strategies.base import CandidateStrategy, Trial, rescored_best
from mdlnas.strategies.encoding import Choices
from mdlnas.strategies.evaluators import Evaluator


class RandomSearch(CandidateStrategy):
    name = "random"

    def ask(self) -> Choices:
        return self.coding.random(self.rng)

    def select(self, trials: Sequence[Trial], evaluator: Evaluator) -> Trial:
        return rescored_best(trials, evaluator)
