"""Fixtures of the strategy tests: a tiny problem every strategy can search in a second."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mdlnas.config import SpaceConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.strategies import ArchitectureCoding, Choices, Evaluation, Problem, Trial

MLP_OPS = ("linear", "linear_bottleneck", "identity", "zero")


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread: None) -> None:
    """Every strategy test runs on one thread (tests/conftest.py says why)."""


def blobs(n: int = 120, seed: int = 0) -> DataBundle:
    """Three Gaussian blobs in 4-D, split 1/2 train, 1/4 val, 1/4 test."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(0, 2, (3, 4))[y] + rng.normal(0, 1, (n, 4))).astype(np.float32)
    parts = [slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)]
    train, val, test = (Split(x[p], y[p].astype(np.int64)) for p in parts)
    return DataBundle("blobs", "classification", train, val, test, (4,), 3)


@pytest.fixture
def space() -> SpaceConfig:
    return SpaceConfig("mlp", 0, MLP_OPS, n_nodes=2, layers=1, channels=8)


@pytest.fixture
def problem(space: SpaceConfig) -> Problem:
    return Problem(blobs(), space, seed=0)


@pytest.fixture
def coding(problem: Problem) -> ArchitectureCoding:
    return ArchitectureCoding.for_data(problem.space, problem.data)


TrialMaker = Callable[[Choices, float], Trial]


@pytest.fixture
def make_trial(coding: ArchitectureCoding) -> TrialMaker:
    """A trial of ``choices`` with a known objective, for feeding ask / tell strategies."""

    def make(choices: Choices, objective: float) -> Trial:
        evaluation = Evaluation(objective, objective, 1.0 - objective, "accuracy", 0.0)
        return Trial(0, choices, coding.decode(choices), evaluation, 0.0)

    return make
