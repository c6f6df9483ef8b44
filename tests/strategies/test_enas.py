"""ENAS: the REINFORCE update and the moving-average baseline against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mdlnas.strategies import ArchitectureCoding, Budget, Problem
from mdlnas.strategies.enas import (
    Controller,
    Enas,
    EnasConfig,
    MovingAverageBaseline,
    reinforce_loss,
)


def test_baseline_gives_the_advantage_before_absorbing_the_reward() -> None:
    baseline = MovingAverageBaseline(decay=0.9)
    assert baseline.advantage(1.0) == 0.0 and baseline.value == 1.0  # starts at R_1
    assert baseline.advantage(2.0) == pytest.approx(1.0)  # 2 − 1
    assert baseline.value == pytest.approx(0.9 * 1.0 + 0.1 * 2.0)
    assert baseline.advantage(0.0) == pytest.approx(-1.1)


def test_reinforce_step_on_a_softmax_policy_moves_the_logits_by_hand() -> None:
    # ∇_θ log softmax(θ)_a = onehot(a) − π, so one SGD step of size η on −A·log π_a is
    # θ ← θ + η·A·(onehot(a) − π). With θ = (0, 0), a = 0, A = 1, η = 1: (0.5, −0.5).
    theta = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=1.0)
    log_prob = torch.log_softmax(theta, dim=0)[0]
    torch.autograd.backward(reinforce_loss(log_prob, advantage=1.0))
    optimizer.step()
    torch.testing.assert_close(theta.detach(), torch.tensor([0.5, -0.5]))
    # A negative advantage pushes the other way, by the same rule: π = (e, 1)/(1 + e)
    optimizer.zero_grad()
    pi0 = math.e / (1 + math.e)
    torch.autograd.backward(reinforce_loss(torch.log_softmax(theta, dim=0)[0], advantage=-2.0))
    optimizer.step()
    expected = torch.tensor([0.5 - 2 * (1 - pi0), -0.5 + 2 * (1 - pi0)])
    torch.testing.assert_close(theta.detach(), expected)


def test_a_controller_with_a_zero_head_is_uniform() -> None:
    controller = Controller(n_decisions=3, n_ops=4, config=EnasConfig())
    with torch.no_grad():
        controller.head.weight.zero_()
        controller.head.bias.zero_()
    with torch.no_grad():
        log_prob, entropy = controller.log_prob_and_entropy((0, 3, 1))
    assert float(log_prob) == pytest.approx(3 * math.log(1 / 4), rel=1e-6)
    assert float(entropy) == pytest.approx(3 * math.log(4), rel=1e-6)


def test_rewarded_sequences_become_more_likely_and_penalised_ones_less(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    enas = Enas(config=EnasConfig(learning_rate=0.05))
    enas.coding, enas.rng, enas.budget = coding, np.random.default_rng(0), Budget(10)
    enas.start(problem)
    good, bad = (0, 3, 2), (1, 1, 1)

    def log_prob(choices: tuple[int, ...]) -> float:
        with torch.no_grad():
            return float(enas.controller.log_prob_and_entropy(choices)[0])

    enas.reinforce(good, reward=0.0)  # the first reward only sets the baseline
    before_good = log_prob(good)
    assert enas.reinforce(good, reward=1.0) > 0
    assert log_prob(good) > before_good
    before_bad = log_prob(bad)
    assert enas.reinforce(bad, reward=-1.0) < 0
    assert log_prob(bad) < before_bad


def test_samples_are_reproducible_from_the_seed(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    def draws() -> list[tuple[int, ...]]:
        enas = Enas()
        enas.coding, enas.rng, enas.budget = coding, np.random.default_rng(0), Budget(10)
        enas.start(problem)
        return [enas.ask() for _ in range(5)]

    assert draws() == draws()
