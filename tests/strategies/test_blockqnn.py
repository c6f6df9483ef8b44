"""BlockQNN: the Q-learning update, the ε schedule and replay, against hand computations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mdlnas.strategies import ArchitectureCoding, Budget, Choices, Problem, Trial
from mdlnas.strategies.blockqnn import BlockQnn, BlockQnnConfig, QTable, epsilon_at, states_of


def test_states_are_the_step_and_the_previous_decision() -> None:
    assert states_of((2, 0, 1)) == [(0, -1), (1, 2), (2, 0)]


def test_q_learning_update_by_hand() -> None:
    # T = 2, R = 1 shaped to r_t = 0.5, η = 0.5, γ = 1, Q starts at 0; last step first:
    #   Q((1, 1), 0)  = 0.5·0 + 0.5·(0.5 + 0)            = 0.25   (terminal: no future)
    #   Q((0, −1), 1) = 0.5·0 + 0.5·(0.5 + max Q((1, 1))) = 0.375
    q = QTable(n_actions=2)
    q.learn_episode((1, 0), reward=1.0, learning_rate=0.5, discount=1.0)
    assert q.values((1, 1)).tolist() == [0.25, 0.0]
    assert q.values((0, -1)).tolist() == [0.0, 0.375]
    # replaying it: 0.5·0.25 + 0.5·0.5 = 0.375, then 0.5·0.375 + 0.5·(0.5 + 0.375) = 0.625
    q.learn_episode((1, 0), reward=1.0, learning_rate=0.5, discount=1.0)
    assert q.values((1, 1))[0] == pytest.approx(0.375)
    assert q.values((0, -1))[1] == pytest.approx(0.625)


def test_discount_scales_the_future_value() -> None:
    # T = 3, R = 1 so r_t = 1/3, η = 0.5, γ = 0.5; Q((1, 0), 0) starts at 2, the rest at 0:
    #   Q((2, 0), 0)  ← 0.5·0 + 0.5·(1/3)                       = 1/6
    #   Q((1, 0), 0)  ← 0.5·2 + 0.5·(1/3 + 0.5·1/6)             = 1 + 5/24
    #   Q((0, −1), 0) ← 0.5·0 + 0.5·(1/3 + 0.5·(1 + 5/24))
    q = QTable(n_actions=1)
    q.values((1, 0))[0] = 2.0
    q.learn_episode((0, 0, 0), reward=1.0, learning_rate=0.5, discount=0.5)
    assert q.values((2, 0))[0] == pytest.approx(1 / 6)
    assert q.values((1, 0))[0] == pytest.approx(1 + 5 / 24)
    assert q.values((0, -1))[0] == pytest.approx(0.5 * (1 / 3 + 0.5 * (1 + 5 / 24)))


def test_epsilon_explores_fully_then_falls_linearly_to_its_floor() -> None:
    values = [epsilon_at(k, 10, explore_fraction=0.5, final=0.1) for k in range(12)]
    assert values[:6] == [1.0] * 6
    assert values[6:10] == pytest.approx([0.775, 0.55, 0.325, 0.1])
    assert values[10:] == [0.1, 0.1]  # past the plan (a time budget): the floor


def test_greedy_breaks_ties_at_random_among_the_best_only() -> None:
    q = QTable(n_actions=4)
    q.values((0, -1))[:] = [0.2, 0.7, 0.1, 0.7]
    rng = np.random.default_rng(0)
    assert {q.greedy((0, -1), rng) for _ in range(50)} == {1, 3}


def test_tell_learns_the_episode_and_replays_memory(
    problem: Problem, coding: ArchitectureCoding,
    make_trial: Callable[[Choices, float], Trial],
) -> None:
    agent = BlockQnn(config=BlockQnnConfig(learning_rate=0.5, replay_size=0))
    agent.coding, agent.rng, agent.budget = coding, np.random.default_rng(0), Budget(4)
    agent.start(problem)
    assert agent.epsilon == 1.0
    agent.tell(make_trial((0, 3, 2), 0.25))  # reward −0.25, three steps: r_t = −1/12
    assert agent.q.values((2, 3))[2] == pytest.approx(0.5 * (-0.25 / 3))
    assert len(agent.memory) == 1
    replaying = BlockQnn(config=BlockQnnConfig(learning_rate=0.5, replay_size=1))
    replaying.coding, replaying.rng, replaying.budget = coding, np.random.default_rng(0), Budget(4)
    replaying.start(problem)
    replaying.tell(make_trial((0, 3, 2), 0.25))  # the only memory: learnt twice
    assert replaying.q.values((2, 3))[2] == pytest.approx(0.75 * (-0.25 / 3))
