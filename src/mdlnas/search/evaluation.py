"""Scoring a network on a split: the metric users read and the NLL the method optimises."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mdlnas.config import Task
from mdlnas.search.batches import TensorSplit
from mdlnas.search.objectives import mean_nll


@dataclass(frozen=True)
class Scores:
    """``metric`` is accuracy (classification) or RMSE in the user's units (regression);
    ``nll`` is the mean negative log-likelihood per example in nats, in the user's units."""

    metric: float
    nll: float
    metric_name: str


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Outputs of ``model`` in evaluation mode (posterior means), batch by batch."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def score(
    model: nn.Module, split: TensorSplit, task: Task, y_std: float = 1.0
) -> Scores:
    outputs = predict(model, split.x)
    log_noise = getattr(model, "log_noise", None)
    nll = float(mean_nll(outputs, split.y, task, log_noise).detach())
    if task == "classification":
        accuracy = float((outputs.argmax(-1) == split.y).float().mean())
        return Scores(accuracy, nll, "accuracy")
    rmse = float((outputs.squeeze(-1) - split.y).pow(2).mean().sqrt()) * y_std
    # A density in standardised units becomes one in user units by the Jacobian y_std.
    return Scores(rmse, nll + math.log(y_std), "rmse")


Point = tuple[float, float]  # (size, error): both smaller is better


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indices of the points that no other point matches or beats in both coordinates,
    by increasing size (of equal points, the first)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best_error = math.inf
    for i in order:
        if points[i][1] < best_error:
            front.append(i)
            best_error = points[i][1]
    return front
