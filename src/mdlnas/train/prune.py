"""Pruning by signal-to-noise ratio (Graves 2011).

A weight whose posterior mean is small next to its posterior spread, ``|μ|/σ < T``,
carries little information: setting it to zero barely changes the network's predictions
while the deployed network gets smaller.
"""

from __future__ import annotations

import torch
from torch import nn

from mdlnas.errors import ConfigError
from mdlnas.space.variational import VariationalParameter


@torch.no_grad()
def prune_by_snr(model: nn.Module, threshold: float) -> int:
    """Zero the posterior mean of every variational weight with ``|μ|/σ < threshold`` (in
    place); returns how many were pruned. Evaluation uses the means, so a pruned weight is
    absent from the deployed network; its σ is kept, which makes its KL small (a weight whose
    posterior sits on the prior costs almost nothing to describe)."""
    if not threshold >= 0:
        raise ConfigError(f"the SNR threshold must be zero or positive, got {threshold}")
    params = [p for p in model.modules() if isinstance(p, VariationalParameter)]
    if not any(p.rho is not None for p in params):
        raise ConfigError(
            "pruning by signal-to-noise needs variational weights; retrain without "
            "--deterministic"
        )
    pruned = 0
    for p in params:
        if p.rho is None:
            continue
        mask = p.mu.abs() < threshold * p.sigma
        p.mu[mask] = 0.0
        pruned += int(mask.sum())
    return pruned
