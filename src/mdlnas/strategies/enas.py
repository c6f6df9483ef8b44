"""ENAS (Pham et al. 2018): an LSTM controller trained by REINFORCE, with shared weights.

The controller emits a candidate one decision at a time: at step ``t`` an LSTM cell reads
the embedding of the previous decision (a start token at ``t = 0``), and a linear layer
over its state gives the logits of the op of edge ``t``; logits are divided by a
temperature and squashed by ``c · tanh`` as in the paper. The sampled candidate is
evaluated (with weight sharing, its path is trained on the shared weights and scored on
validation data), and the controller takes one REINFORCE step

    reward    R = −objective + w_H · H(π)           (sample entropy bonus, as in the paper)
    advantage A = R − b,   b ← δ · b + (1 − δ) · R   (moving-average baseline)
    loss        = −A · Σ_t log π(a_t | a_<t)

The baseline enters the advantage before it absorbs the new reward (the unbiased form; it
starts at the first reward). After the budget the controller samples ``final_samples``
candidates, and with weight sharing the one scoring best with the final shared weights is
returned (the paper's derivation); otherwise the best evaluated candidate is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mdlnas.errors import ConfigError
from mdlnas.space.genotype import Genotype
from mdlnas.strategies.base import CandidateStrategy, StrategySettings, Trial, best_trial
from mdlnas.strategies.encoding import Choices
from mdlnas.strategies.evaluators import Evaluator
from mdlnas.strategies.problem import Problem


@dataclass(frozen=True)
class EnasConfig:
    """The paper: 100 LSTM units trained by Adam at 3.5e-4 with a slow moving-average
    baseline over ~10^5 samples, logits at temperature 5 and tanh constant 2.5, the
    sample entropy added to the reward. Budgets here are hundreds of samples at most, so
    the controller is smaller, learns faster (10^-2) and its baseline forgets sooner (0.9)."""

    hidden_size: int = 32
    learning_rate: float = 1e-2
    baseline_decay: float = 0.9
    entropy_weight: float = 1e-4
    temperature: float = 5.0
    tanh_constant: float = 2.5
    final_samples: int = 10

    def __post_init__(self) -> None:
        for name in ("hidden_size", "final_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("learning_rate", "temperature", "tanh_constant"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.baseline_decay < 1:
            raise ConfigError(f"baseline_decay must lie in [0, 1), got {self.baseline_decay}")
        if not self.entropy_weight >= 0:
            raise ConfigError(f"entropy_weight must be 0 or more, got {self.entropy_weight}")


class Controller(nn.Module):
    """An LSTM policy over a sequence of ``n_decisions`` choices among ``n_ops``."""

    def __init__(self, n_decisions: int, n_ops: int, config: EnasConfig) -> None:
        super().__init__()
        self.n_decisions, self.n_ops, self.config = n_decisions, n_ops, config
        self.embed = nn.Embedding(n_ops + 1, config.hidden_size)  # index n_ops: start token
        self.lstm = nn.LSTMCell(config.hidden_size, config.hidden_size)
        self.head = nn.Linear(config.hidden_size, n_ops)

    def _logits(self, hidden: Tensor) -> Tensor:
        cfg = self.config
        return cfg.tanh_constant * torch.tanh(self.head(hidden) / cfg.temperature)  # (1, n_ops)

    def _steps(self, choices: Sequence[int] | None, generator: torch.Generator | None
               ) -> tuple[list[int], Tensor, Tensor]:
        """Run the policy, sampling (``choices`` None) or replaying ``choices``; returns the
        decisions, ``Σ log π(a_t)`` and ``Σ H(π_t)``."""
        state: tuple[Tensor, Tensor] | None = None
        previous = torch.tensor([self.n_ops])
        taken: list[int] = []
        log_prob, entropy = torch.zeros(()), torch.zeros(())
        for t in range(self.n_decisions):
            state = self.lstm(self.embed(previous), state)
            log_pi = torch.log_softmax(self._logits(state[0]), dim=-1)[0]  # (n_ops,)
            if choices is None:
                action = int(torch.multinomial(log_pi.exp().detach(), 1, generator=generator))
            else:
                action = int(choices[t])
            taken.append(action)
            log_prob = log_prob + log_pi[action]
            entropy = entropy - (log_pi.exp() * log_pi).sum()
            previous = torch.tensor([action])
        return taken, log_prob, entropy

    @torch.no_grad()
    def sample(self, generator: torch.Generator) -> Choices:
        return tuple(self._steps(None, generator)[0])

    def log_prob_and_entropy(self, choices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """``Σ_t log π(a_t | a_<t)`` and the summed per-step entropies, differentiable."""
        _, log_prob, entropy = self._steps(choices, None)
        return log_prob, entropy


def reinforce_loss(log_prob: Tensor, advantage: float) -> Tensor:
    """Minimising this ascends ``advantage · ∇ log π``: the REINFORCE estimator."""
    return -advantage * log_prob


class MovingAverageBaseline:
    """``b ← δ · b + (1 − δ) · R``, starting at the first reward."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.value: float | None = None

    def advantage(self, reward: float) -> float:
        """``R − b`` with the baseline before this reward, then absorb the reward."""
        baseline = reward if self.value is None else self.value
        self.value = self.decay * baseline + (1 - self.decay) * reward
        return reward - baseline


class Enas(CandidateStrategy):
    name = "enas"

    def __init__(
        self, settings: StrategySettings | None = None, config: EnasConfig | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config or EnasConfig()

    def start(self, problem: Problem) -> None:
        # The controller's initialisation and samples have their own random streams, so they
        # neither depend on nor disturb the global one the evaluator's training uses.
        with torch.random.fork_rng():
            torch.manual_seed(problem.seed)
            self.controller = Controller(self.coding.n_decisions, self.coding.n_ops, self.config)
        self.generator = torch.Generator().manual_seed(problem.seed)
        self.optimizer = torch.optim.Adam(self.controller.parameters(),
                                          lr=self.config.learning_rate)
        self.baseline = MovingAverageBaseline(self.config.baseline_decay)

    def ask(self) -> Choices:
        return self.controller.sample(self.generator)

    def tell(self, trial: Trial) -> None:
        self.reinforce(trial.choices, -trial.evaluation.objective)

    def reinforce(self, choices: Choices, reward: float) -> float:
        """One REINFORCE step towards (or away from) ``choices``; returns the advantage."""
        log_prob, entropy = self.controller.log_prob_and_entropy(choices)
        advantage = self.baseline.advantage(
            reward + self.config.entropy_weight * float(entropy.detach())
        )
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(reinforce_loss(log_prob, advantage))
        self.optimizer.step()
        return advantage

    def select(self, trials: Sequence[Trial], evaluator: Evaluator) -> Trial:
        if not evaluator.can_rescore:  # no shared weights to rank fresh samples with
            return best_trial(trials)
        samples: dict[Genotype, Trial] = {}
        for k in range(self.config.final_samples):
            choices = self.coding.check(self.controller.sample(self.generator))
            genotype = self.coding.decode(choices)
            if genotype not in samples:
                samples[genotype] = Trial(len(trials) + k, choices, genotype,
                                          evaluator.rescore(genotype), trials[-1].seconds)
        return best_trial(list(samples.values()))
