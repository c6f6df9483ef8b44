"""The small datasets bundled with scikit-learn (read from its package, no network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mdlnas.data.assemble import build_bundle
from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig
from mdlnas.data.targets import Targets
from mdlnas.errors import DataError


def _sklearn_loader(name: str) -> Callable[[], Any]:
    try:
        from sklearn import datasets  # imported here: ~1 s, and only these sets need it
    except ImportError:
        raise DataError(
            f"dataset {name!r} needs scikit-learn: pip install scikit-learn "
            "(or pip install 'mdlnas[data]')"
        ) from None
    loader: Callable[[], Any] = getattr(datasets, f"load_{name.replace('-', '_')}")
    return loader


def _classification(name: str, config: DataConfig, *, as_image: bool = False) -> DataBundle:
    bunch = _sklearn_loader(name)()
    x = np.asarray(bunch.data)
    if as_image:
        x = np.asarray(bunch.images)[:, None]  # (n, 1, 8, 8)
    names = tuple(str(label) for label in bunch.target_names)
    targets = Targets("classification", np.asarray(bunch.target, dtype=np.int64), names)
    return build_bundle(config, config.name, x, targets)


def load_digits(config: DataConfig) -> DataBundle:
    """8×8 handwritten digits as 64 tabular features: 1,797 rows, 10 classes."""
    return _classification("digits", config)


def load_digits_image(config: DataConfig) -> DataBundle:
    """The same digits as one-channel 8×8 images, a tiny image set for fast CPU runs."""
    return _classification("digits", config, as_image=True)


def load_breast_cancer(config: DataConfig) -> DataBundle:
    """Wisconsin breast cancer: 569 rows, 30 features, 2 classes."""
    return _classification("breast-cancer", config)


def load_wine(config: DataConfig) -> DataBundle:
    """Wine recognition: 178 rows, 13 features, 3 classes."""
    return _classification("wine", config)


def load_iris(config: DataConfig) -> DataBundle:
    """Iris: 150 rows, 4 features, 3 classes."""
    return _classification("iris", config)


def load_diabetes(config: DataConfig) -> DataBundle:
    """Diabetes progression: 442 rows, 10 features, regression."""
    bunch = _sklearn_loader("diabetes")()
    targets = Targets("regression", np.asarray(bunch.target, dtype=np.float64))
    return build_bundle(config, config.name, np.asarray(bunch.data), targets)
