"""Turn raw arrays into a :class:`DataBundle`: split, fit scaling on train, cast dtypes.

Every source (built-in or user file) ends here, so the split and scaling rules live in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mdlnas.config import Task
from mdlnas.data.bundle import DataBundle, Scaling, Split
from mdlnas.data.config import DataConfig
from mdlnas.data.scaling import fit_scaling
from mdlnas.data.split import Index, PartSizes, plan_sizes, split_indices
from mdlnas.data.targets import Targets, check_finite_features
from mdlnas.errors import DataError

if TYPE_CHECKING:
    from mdlnas.data.encoding import FeatureEncoding


@dataclass(frozen=True)
class FixedTest:
    """A test part that ships with the dataset (kept as is instead of carved out)."""

    x: NDArray[np.generic]
    targets: Targets


def build_bundle(
    config: DataConfig,
    name: str,
    x: NDArray[np.generic],
    targets: Targets,
    *,
    test: FixedTest | None = None,
    encoding: FeatureEncoding | None = None,
) -> DataBundle:
    """Split ``x`` / ``targets`` (and keep ``test`` if given), scale, and bundle them.

    ``x`` has shape ``(n, *input_shape)``; ``input_shape`` has 1 (tabular), 2 (signal) or
    3 (image) axes. With ``config.signal``, flat ``x`` becomes signals first.
    """
    x = as_signals(x, config.signal, name)
    if test is not None:
        test = FixedTest(as_signals(test.x, config.signal, f"{name} (test part)"), test.targets)
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{name}: features must have shape (n, features), (n, channels, length) or "
            f"(n, channels, height, width); got {x.shape}"
        )
    if 0 in x.shape[1:]:
        raise DataError(
            f"{name}: features have shape {x.shape}, so a sample holds no values; every "
            "sample needs at least one feature"
        )
    if len(x) != len(targets.y):
        raise DataError(f"{name}: {len(x)} feature rows but {len(targets.y)} targets")
    _check_features(x, name)
    _check_task(config, name, targets)

    classes = targets.y.astype(np.int64) if targets.task == "classification" else None
    sizes = plan_sizes(
        len(x),
        val_fraction=config.val_fraction,
        test_fraction=None if test is not None else config.test_fraction,
        n_train=config.n_train,
    )
    rng = np.random.default_rng(config.seed)
    train_ix, val_ix, test_ix = split_indices(classes, sizes, rng, len(x))
    if classes is not None:
        _check_classes_in_train(name, classes, train_ix, targets.n_classes, sizes)

    # Index first, cast second: with n_train most rows of a large set are never copied.
    x_train, x_val = _features(x, train_ix), _features(x, val_ix)
    y_train = targets.y[train_ix].astype(np.float64) if classes is None else None
    scaling = fit_scaling(x_train, y_train)
    if test is None:
        x_test = _features(x, test_ix)
        test_split = _scaled_split(x_test, targets.y[test_ix], scaling, targets.task, test_ix)
    else:
        test_split = _fixed_test_split(name, test, targets, scaling, x.shape[1:])
    return DataBundle(
        name=name,
        task=targets.task,
        train=_scaled_split(x_train, targets.y[train_ix], scaling, targets.task, train_ix),
        val=_scaled_split(x_val, targets.y[val_ix], scaling, targets.task, val_ix),
        test=test_split,
        input_shape=tuple(int(d) for d in x.shape[1:]),
        n_classes=targets.n_classes,
        scaling=scaling,
        class_names=targets.class_names,
        encoding=encoding,
    )


def as_signals(x: NDArray[Any], channels: int | None, name: str) -> NDArray[Any]:
    """Flat features ``(n, channels * length)`` as signals ``(n, channels, length)``, the
    columns holding one channel after another; other shapes, or ``channels=None``, as
    they are."""
    if channels is None or x.ndim != 2:
        return x
    width = x.shape[1]
    if width % channels:
        raise DataError(
            f"{name}: {width} feature columns cannot be {channels} channels of equal length; "
            f"give a channel count that divides {width}, the columns holding one channel "
            "after another"
        )
    return x.reshape(len(x), channels, width // channels)


def encoding_rows(config: DataConfig, name: str, targets: Targets) -> Index:
    """The rows a table's feature encoding is fitted on: the whole training part, as if
    ``n_train`` were unset. ``n_train`` only shortens that part from its front and never
    reaches the validation or test rows, so one encoding serves a search on a subset
    and a retraining on every row, and nothing is learnt from held-out rows."""
    n = len(targets.y)
    classes = targets.y.astype(np.int64) if targets.task == "classification" else None
    sizes = plan_sizes(n, val_fraction=config.val_fraction,
                       test_fraction=config.test_fraction, n_train=None)
    train_ix, _, _ = split_indices(classes, sizes, np.random.default_rng(config.seed), n)
    return train_ix


def _scaled_split(
    x: NDArray[np.float32], y: NDArray[np.generic], scaling: Scaling, task: Task, rows: Index
) -> Split:
    """Features scaled to float32; class indices int64, regression targets scaled float32."""
    y_cast = y.astype(np.int64) if task == "classification" else scaling.transform_y(y)
    return Split(scaling.transform_x(x), y_cast, rows)


def _check_task(config: DataConfig, name: str, targets: Targets) -> None:
    if config.task not in ("auto", targets.task):
        raise DataError(f"{name} is a {targets.task} dataset, but task={config.task!r} was asked")


def _check_classes_in_train(
    name: str, classes: NDArray[np.int64], train_ix: Index, n_classes: int, sizes: PartSizes
) -> None:
    # The proportional order puts one row of every class first, so this only fails when
    # the training part is smaller than the number of classes.
    missing = n_classes - len(np.unique(classes[train_ix]))
    if missing:
        raise DataError(
            f"{name}: the training part ({sizes.train} rows) is too small to hold all "
            f"{n_classes} classes ({missing} missing); raise n_train or add rows"
        )


def _fixed_test_split(
    name: str, test: FixedTest, targets: Targets, scaling: Scaling, sample_shape: tuple[int, ...]
) -> Split:
    if test.targets.task != targets.task or test.targets.class_names != targets.class_names:
        raise DataError(f"{name}: the test part's classes differ from the train part's")
    if test.x.shape[1:] != sample_shape:
        raise DataError(
            f"{name}: test samples have shape {test.x.shape[1:]}, train samples {sample_shape}"
        )
    _check_features(test.x, f"{name} (test part)")
    rows = np.arange(len(test.x), dtype=np.int64)
    return _scaled_split(test.x.astype(np.float32), test.targets.y, scaling, targets.task, rows)


def _check_features(x: NDArray[np.generic], source: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: features must be numeric, got dtype {x.dtype}")
    if x.dtype.kind == "f":  # integers cannot be NaN or too large; skip large images
        check_finite_features(x, source=source)


def _features(x: NDArray[np.generic], rows: Index) -> NDArray[np.float32]:
    return x[rows].astype(np.float32)
