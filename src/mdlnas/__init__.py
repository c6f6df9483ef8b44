"""mdlnas: neural architecture search for networks of optimal complexity.

Differentiable architecture search (DARTS) in which every candidate is charged for its
description length, estimated with variational (Gaussian) weights.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mdlnas.errors import (
    ConfigError,
    DataError,
    GenotypeError,
    MdlnasError,
    RegistryError,
    SearchError,
)

if TYPE_CHECKING:
    from mdlnas.estimators import MDLNASClassifier, MDLNASRegressor

__version__ = "0.1.0"

# The estimators import scikit-learn and the search (about a second); the CLI imports
# mdlnas on every call and needs neither, so they load on first use.
_LAZY = {"MDLNASClassifier": "mdlnas.estimators", "MDLNASRegressor": "mdlnas.estimators"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mdlnas' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataError",
    "GenotypeError",
    "MDLNASClassifier",
    "MDLNASRegressor",
    "MdlnasError",
    "RegistryError",
    "SearchError",
    "__version__",
]
