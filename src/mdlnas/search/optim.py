"""The search's optimiser: Adam, with the fused kernel where the device has one.

PyTorch's default Adam on the CPU runs about ten tensor operations per parameter tensor
from Python; the fused kernel does one pass per tensor in C++. Measured on the MLP space
(80 weight tensors) a step took 1.86 ms with the default and 0.37 ms fused, on conv1d
(238 tensors) 11.5 ms and 1.8 ms: a sixth of a first-order DARTS step on the MLP space.
The update is the same algorithm; only the rounding of the last bits may differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices


def adam(params: Iterable[Any], device: torch.device, **settings: Any) -> torch.optim.Adam:
    """``torch.optim.Adam(params, **settings)``, fused when ``device`` supports it."""
    fused = device.type in _get_fused_kernels_supported_devices()
    return torch.optim.Adam(params, fused=fused or None, **settings)
