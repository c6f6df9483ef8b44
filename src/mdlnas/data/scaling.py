"""Fit the affine scaling on the training part only, so val / test stay unseen.

Tabular data is scaled per feature; signals ``(n, C, L)`` and images ``(n, C, H, W)`` per
channel (one mean / std per channel over all positions), which keeps the spatial structure
that convolutions rely on. For one-channel images this is a single global scalar.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.bundle import Scaling

# A spread below float32's resolution of the values (or exactly 0) is noise, not signal:
# such a feature or channel is treated as constant and its std set to 1, so it maps to 0
# instead of being blown up by a near-zero divisor. So is a spread below float32's smallest
# normal number, which the float32 cast of the std would turn into 0 (division by zero).
RELATIVE_STD_FLOOR = 1e-6
ABSOLUTE_STD_FLOOR = float(np.finfo(np.float32).tiny)
_BLOCK_ROWS = 4096


def _safe_std(mean: NDArray[np.float64], std: NDArray[np.float64]) -> NDArray[np.float64]:
    constant = (std < ABSOLUTE_STD_FLOOR) | (std <= RELATIVE_STD_FLOOR * np.abs(mean))
    return np.where(constant, 1.0, std)


def _moments(
    x: NDArray[np.float32], axes: tuple[int, ...]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and std over ``axes`` (keeping them), two-pass in float64 accumulators.

    The second pass runs over blocks of rows so no full-size float64 copy is made: on the
    60,000 Fashion-MNIST images that copy alone took a second.
    """
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)
    shift = mean.astype(np.float32)
    squares = np.zeros_like(mean)
    for start in range(0, len(x), _BLOCK_ROWS):
        centred = x[start : start + _BLOCK_ROWS] - shift
        # Square in float64: float32 squares overflow for values beyond about 1e19.
        squares += np.square(centred, dtype=np.float64).sum(axis=axes, keepdims=True)
    # The float32 shift differs from the float64 mean by rounding; correct for it exactly.
    offset = mean - shift.astype(np.float64)
    count = x.size // mean.size  # values per feature / channel
    variance = np.maximum(squares / count - offset**2, 0.0)
    return mean[0], np.sqrt(variance)[0]


def fit_scaling(x_train: NDArray[np.float32], y_train: NDArray[np.float64] | None) -> Scaling:
    """Scaling fitted on ``x_train``; ``y_train`` is given for regression only."""
    # Reduce over the sample axis and, for signals and images, the positions too.
    axes = (0,) if x_train.ndim == 2 else (0, *range(2, x_train.ndim))
    mean, std = _moments(x_train, axes)  # (F,) for tables, (C, 1[, 1]) otherwise
    x_mean, x_std = mean.astype(np.float32), _safe_std(mean, std).astype(np.float32)
    if y_train is None:
        return Scaling(x_mean=x_mean, x_std=x_std)
    y_mean = np.array(y_train.mean())
    y_std = _safe_std(y_mean, np.array(y_train.std()))
    return Scaling(x_mean=x_mean, x_std=x_std, y_mean=float(y_mean), y_std=float(y_std))
