"""The seed's stopping rule, "while the weights change", made precise.

After every epoch the relative change ``‖θ_t − θ_{t−1}‖ / ‖θ_{t−1}‖`` of the weights β
and of the architecture α is measured; the search has converged when both stay below
``tol`` for ``patience`` consecutive epochs. A maximum number of epochs bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([t.detach().reshape(-1).float().cpu() for t in tensors])


def relative_change(previous: Tensor, current: Tensor) -> float:
    return float((current - previous).norm() / previous.norm().clamp_min(1e-12))


class ChangeMonitor:
    """Tracks per-epoch relative changes and says when they have stayed small enough."""

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience
        self.calm_epochs = 0

    def update(self, weight_change: float, alpha_change: float) -> bool:
        """Record one epoch; True once both changes were below ``tol`` for ``patience``
        epochs in a row."""
        if weight_change < self.tol and alpha_change < self.tol:
            self.calm_epochs += 1
        else:
            self.calm_epochs = 0
        return self.calm_epochs >= self.patience

    def state_dict(self) -> dict[str, int]:
        return {"calm_epochs": self.calm_epochs}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.calm_epochs = int(state["calm_epochs"])
