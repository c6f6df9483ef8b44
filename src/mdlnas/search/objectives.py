"""The objectives of the bilevel problem (docs/METHOD.md).

    F_train = E_Q[NLL(D_train)] / m      + λ · DL(β, α) / m
    F_val   = E_Q[NLL(D_val)]   / |D_val| + λ · DL(β, α) / m

Both are estimated on mini-batches: the mean NLL of the batch estimates the per-example
expected NLL. ``m`` is always the size of the training set, so the complexity term is the
same in both and means "nats of description per training example".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Task = Literal["classification", "regression"]


def mean_nll(outputs: Tensor, targets: Tensor, task: Task, log_noise: Tensor | None) -> Tensor:
    """Mean negative log-likelihood per example, in nats.

    Classification: cross-entropy of the logits ``(B, K)`` against class indices ``(B,)``.
    Regression: Gaussian NLL of ``(B, 1)`` predictions with noise scale ``exp(log_noise)``.
    """
    if task == "classification":
        return F.cross_entropy(outputs, targets)
    if log_noise is None:
        raise ValueError("regression needs a noise scale parameter")
    residual = outputs.squeeze(-1) - targets
    return (
        0.5 * math.log(2 * math.pi)
        + log_noise
        + 0.5 * residual.pow(2) * torch.exp(-2 * log_noise)
    ).mean()


@dataclass(frozen=True)
class FreeEnergy:
    """One evaluation of an objective and its parts (all in nats)."""

    total: Tensor  # nll + lam * dl / m
    nll: Tensor  # mean NLL per example
    dl: Tensor  # description length of the network


def free_energy(nll: Tensor, dl: Tensor, lam: float, m: int) -> FreeEnergy:
    return FreeEnergy(nll + (lam / m) * dl, nll, dl)
