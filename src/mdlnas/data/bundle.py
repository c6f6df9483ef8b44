"""The data contract every later layer relies on: a split, scaled sample with its task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from mdlnas.config import Task
from mdlnas.errors import DataError

if TYPE_CHECKING:
    from mdlnas.data.encoding import FeatureEncoding


@dataclass(frozen=True)
class Split:
    """One part of a dataset: features ``x`` (float32, shape ``(n, *input_shape)``) and
    targets ``y`` (int64 class indices for classification, float32 for regression), plus
    optionally the source row of each sample."""

    x: np.ndarray
    y: np.ndarray
    # Where each sample came from: its row in the source (the user's file, or the dataset's
    # own train / test part), so predictions can be traced back and splits audited.
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise DataError(
                f"features and targets differ in length ({len(self.x)} vs {len(self.y)})"
            )
        if self.rows is not None and len(self.rows) != len(self.x):
            raise DataError(f"{len(self.rows)} row numbers for {len(self.x)} samples")

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Scaling:
    """Affine scaling fitted on the training part only: ``x' = (x - x_mean) / x_std`` and,
    for regression, ``y' = (y - y_mean) / y_std``. Kept so new data can be scaled alike and
    predictions mapped back to the user's units."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float = 0.0
    y_std: float = 1.0

    def transform_x(self, x: np.ndarray) -> np.ndarray:
        scaled: np.ndarray = ((x - self.x_mean) / self.x_std).astype(np.float32)
        return scaled

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        """Regression targets in the user's units → the scaled units models train on."""
        scaled: np.ndarray = ((np.asarray(y) - self.y_mean) / self.y_std).astype(np.float32)
        return scaled

    def inverse_y(self, y: np.ndarray) -> np.ndarray:
        # No np.asarray: a torch tensor passed in should come back a tensor.
        unscaled: np.ndarray = y * self.y_std + self.y_mean
        return unscaled


@dataclass(frozen=True)
class DataBundle:
    """Train / val / test parts of one dataset, already scaled, plus what models need.

    ``train`` fits the weights, ``val`` the architecture, ``test`` is held out and never
    seen by a search. ``input_shape`` is the shape of one sample without the batch axis:
    ``(features,)`` for tabular data, ``(channels, length)`` for signals and
    ``(channels, height, width)`` for images. ``n_classes`` is 0 for regression.
    ``encoding`` says how a table's columns became the features (tables only).
    """

    name: str
    task: Task
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]
    n_classes: int
    scaling: Scaling | None = None
    class_names: tuple[str, ...] = field(default=())
    encoding: FeatureEncoding | None = None

    @property
    def modality(self) -> Literal["tabular", "signal", "image"]:
        """Which family of search spaces suits the data, read off the sample shape."""
        return {1: "tabular", 2: "signal", 3: "image"}[len(self.input_shape)]  # type: ignore[return-value]

    @property
    def output_dim(self) -> int:
        """Width of the network's last layer: classes, or 1 for regression."""
        return self.n_classes if self.task == "classification" else 1
