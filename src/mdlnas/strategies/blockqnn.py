"""BlockQNN (Zhong et al. 2018): ε-greedy Q-learning over the decisions that build a block.

An episode builds one candidate, one decision per step: step ``t`` picks the op of edge
``t`` (``zero``: no edge), so the node / op structure of both cell types is generated in
order. The state of step ``t`` is ``(t, previous decision)`` (the paper's state is the
description of the layer just added; here that is the previous edge's op), and the agent
keeps a table ``Q(state, op)``. Actions are ε-greedy: uniformly random with probability
ε, else the best op in the table (ties broken at random). The only true reward is the
candidate's evaluation at the end of the episode, ``R = −objective``; as in the paper it
is shaped by spreading it over the steps, ``r_t = R / T``, so every decision is credited
at once. The update, applied backwards through an episode so the reward reaches its first
step in one pass, is

    Q(s_t, a_t) ← (1 − η) Q(s_t, a_t) + η [r_t + γ max_a Q(s_{t+1}, a)]   (0 after s_T)

After every new episode the agent replays ``replay_size`` episodes drawn from its memory
of all evaluated ones (experience replay). ε follows the paper's schedule shape: 1
(pure exploration) for the first ``explore_fraction`` of the episodes, then a linear
decrease to ``final_epsilon``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdlnas.errors import ConfigError
from mdlnas.strategies.base import CandidateStrategy, StrategySettings, Trial
from mdlnas.strategies.encoding import Choices
from mdlnas.strategies.problem import Problem

State = tuple[int, int]  # (step, previous decision); -1 before the first decision


@dataclass(frozen=True)
class BlockQnnConfig:
    """The paper: learning rate 0.01, discount 1, ε lowered step by step from 1 to 0.1
    over thousands of episodes. With budgets of tens of episodes the table learns faster
    (0.1). ``episodes_for_time_budget`` plans the ε schedule when only seconds are
    budgeted (after the plan ε stays at its floor)."""

    learning_rate: float = 0.1
    discount: float = 1.0
    final_epsilon: float = 0.1
    explore_fraction: float = 0.5
    replay_size: int = 8
    episodes_for_time_budget: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.learning_rate <= 1:
            raise ConfigError(f"learning_rate must lie in (0, 1], got {self.learning_rate}")
        for name in ("discount", "final_epsilon", "explore_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("replay_size", "episodes_for_time_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")


def states_of(actions: Choices) -> list[State]:
    """The state each decision of an episode was taken in."""
    return [(t, actions[t - 1] if t > 0 else -1) for t in range(len(actions))]


def epsilon_at(episode: int, episodes: int, explore_fraction: float, final: float) -> float:
    """ε of episode ``episode`` (0-based) out of ``episodes``: 1, then linear to ``final``."""
    explore = int(explore_fraction * episodes)
    if episode < explore:
        return 1.0
    decay = max(1, episodes - explore - 1)
    return max(final, 1.0 - (1.0 - final) * (episode - explore) / decay)


class QTable:
    """``Q(state, action)``, each unseen state starting at ``initial`` for every action."""

    def __init__(self, n_actions: int, initial: float = 0.0) -> None:
        self.n_actions, self.initial = n_actions, initial
        self.table: dict[State, np.ndarray] = {}

    def values(self, state: State) -> np.ndarray:
        if state not in self.table:
            self.table[state] = np.full(self.n_actions, self.initial)
        return self.table[state]

    def greedy(self, state: State, rng: np.random.Generator) -> int:
        row = self.values(state)
        return int(rng.choice(np.flatnonzero(row == row.max())))

    def learn_episode(
        self, actions: Choices, reward: float, learning_rate: float, discount: float
    ) -> None:
        """One Q-learning pass over an episode, last step first, with ``r_t = R / T``."""
        states = states_of(actions)
        shaped = reward / len(actions)
        for t in reversed(range(len(actions))):
            future = 0.0
            if t + 1 < len(actions):
                future = discount * float(self.values(states[t + 1]).max())
            row = self.values(states[t])
            row[actions[t]] = (1 - learning_rate) * row[actions[t]] + learning_rate * (
                shaped + future
            )


class BlockQnn(CandidateStrategy):
    name = "blockqnn"

    def __init__(
        self, settings: StrategySettings | None = None, config: BlockQnnConfig | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config or BlockQnnConfig()

    def start(self, problem: Problem) -> None:
        self.q = QTable(self.coding.n_ops)
        self.memory: list[tuple[Choices, float]] = []
        planned = self.budget.max_evaluations
        self.planned_episodes = planned or self.config.episodes_for_time_budget

    @property
    def epsilon(self) -> float:
        cfg = self.config
        return epsilon_at(len(self.memory), self.planned_episodes, cfg.explore_fraction,
                          cfg.final_epsilon)

    def ask(self) -> Choices:
        epsilon, actions = self.epsilon, []
        for t in range(self.coding.n_decisions):
            if self.rng.random() < epsilon:
                actions.append(int(self.rng.integers(self.coding.n_ops)))
            else:
                actions.append(self.q.greedy((t, actions[-1] if actions else -1), self.rng))
        return tuple(actions)

    def tell(self, trial: Trial) -> None:
        cfg = self.config
        episode = (trial.choices, -trial.evaluation.objective)
        self.memory.append(episode)
        self.q.learn_episode(*episode, cfg.learning_rate, cfg.discount)
        for i in self.rng.integers(len(self.memory), size=cfg.replay_size):
            self.q.learn_episode(*self.memory[int(i)], cfg.learning_rate, cfg.discount)
