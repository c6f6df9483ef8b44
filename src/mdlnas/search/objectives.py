"""The data term of the free energy: the negative log-likelihood of a batch.

The free energy itself, ``NLL + λ · DL / m``, is :func:`mdlnas.search.method.free_energy`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from mdlnas.config import Task


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
