"""mdlnas: neural architecture search for networks of optimal complexity.

Differentiable architecture search (DARTS) in which every candidate is charged for its
description length, estimated with variational (Gaussian) weights.
"""

from __future__ import annotations

from mdlnas.errors import (
    ConfigError,
    DataError,
    GenotypeError,
    MdlnasError,
    RegistryError,
    SearchError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "GenotypeError",
    "MdlnasError",
    "RegistryError",
    "SearchError",
    "__version__",
]
