"""Targets: infer the task of user data, encode class labels, reject unusable values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mdlnas.config import Task
from mdlnas.data.config import TaskOption
from mdlnas.errors import DataError

# Integer-valued targets with at most this many distinct values are read as class labels;
# more distinct values (or any fractional value) make the task a regression.
MAX_INFERRED_CLASSES = 50

# Networks compute in float32. Scaling subtracts a mean, so the difference of two values
# must fit as well: a round bound below half of float32's largest value (3.4e38), with room
# for rounding. Larger features or regression targets would silently become infinite (and
# the network NaN); we refuse them instead.
MAX_ABS_VALUE = 1e38


@dataclass(frozen=True)
class Targets:
    """Encoded targets: class indices 0..K-1 (int64) or real values (float64)."""

    task: Task
    y: NDArray[np.int64] | NDArray[np.float64]
    class_names: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def encode_targets(raw: NDArray[np.generic], task: TaskOption, *, source: str) -> Targets:
    """Encode a 1-D array of raw targets (numbers, booleans or strings).

    ``task="auto"`` infers it: non-numeric labels, booleans and integer values with at most
    ``MAX_INFERRED_CLASSES`` distinct values mean classification, anything else regression.
    Class labels become indices in sorted label order; the labels are kept as names.
    """
    if raw.ndim != 1:
        raise DataError(f"{source}: targets must be one value per row, got shape {raw.shape}")
    if raw.dtype.kind not in "biufUSO":
        raise DataError(
            f"{source}: targets must be numbers, booleans or text, got dtype {raw.dtype}"
        )
    if raw.dtype.kind in "USO":
        empty = [i for i, value in enumerate(raw.tolist()) if not str(value).strip()]
        if empty:
            raise DataError(
                f"{source}: target is missing in {len(empty)} row(s) (first at row {empty[0]}); "
                "drop or fill those rows"
            )
    numeric = _as_numeric(raw)
    if numeric is not None and not np.all(np.isfinite(numeric)):
        bad = int(np.flatnonzero(~np.isfinite(numeric))[0])
        raise DataError(
            f"{source}: target has a missing, NaN or infinite value (first at row {bad}); "
            "drop or fill those rows"
        )
    if task == "auto":
        task = _infer_task(raw, numeric)
    if task == "regression":
        if numeric is None:
            raise DataError(
                f"{source}: regression needs numeric targets, but the target holds text "
                f"such as {_first_text(raw)!r}"
            )
        check_magnitude(numeric, source=source, what="regression targets")
        if np.ptp(numeric) == 0:
            raise DataError(f"{source}: the regression target is constant; nothing to learn")
        return Targets("regression", numeric)
    return _encode_classes(raw, numeric, source)


def _infer_task(raw: NDArray[np.generic], numeric: NDArray[np.float64] | None) -> Task:
    if numeric is None or raw.dtype == np.bool_:
        return "classification"
    integer_like = bool(np.all(numeric == np.round(numeric)))
    if integer_like and len(np.unique(numeric)) <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _encode_classes(
    raw: NDArray[np.generic], numeric: NDArray[np.float64] | None, source: str
) -> Targets:
    # Numeric labels sort as numbers (2 before 10) and print without a spurious ".0".
    values = numeric if numeric is not None and raw.dtype != np.bool_ else raw
    labels, y = np.unique(values, return_inverse=True)
    if len(labels) < 2:
        raise DataError(
            f"{source}: the target has a single class ({_label_name(labels[0])!r}); "
            "classification needs at least two"
        )
    names = tuple(_label_name(label) for label in labels)
    return Targets("classification", y.astype(np.int64).reshape(-1), names)


def _as_numeric(raw: NDArray[np.generic]) -> NDArray[np.float64] | None:
    """``raw`` as float64, or None when it holds text that is not a number."""
    if raw.dtype.kind in "biuf":
        return raw.astype(np.float64)
    try:
        return np.array([float(value) for value in raw.tolist()], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _label_name(label: object) -> str:
    if isinstance(label, float | np.floating) and float(label).is_integer():
        return str(int(label))
    return str(label)


def _first_text(raw: NDArray[np.generic]) -> str:
    for value in raw.tolist():
        try:
            float(value)
        except (TypeError, ValueError):
            return str(value)
    return ""


def check_finite_features(x: NDArray[np.generic], *, source: str) -> None:
    """Reject NaN / infinite features, and features too large to compute with in float32
    (see ``MAX_ABS_VALUE``); a network would silently train on garbage."""
    usable = np.abs(x) <= MAX_ABS_VALUE  # one pass: False for NaN and infinity too
    if usable.all():
        return
    finite = np.isfinite(x)
    if finite.all():
        check_magnitude(x, source=source, what="features")
    row = int(np.flatnonzero(~finite.reshape(len(x), -1).all(axis=1))[0])
    raise DataError(
        f"{source}: features hold NaN or infinite values (first at row {row}); "
        "drop or fill those rows"
    )


def check_magnitude(values: NDArray[np.generic], *, source: str, what: str) -> None:
    """Reject finite values too large for float32 arithmetic (see ``MAX_ABS_VALUE``)."""
    too_large = np.abs(values) > MAX_ABS_VALUE
    if too_large.any():
        row = int(np.flatnonzero(too_large.reshape(len(values), -1).any(axis=1))[0])
        raise DataError(
            f"{source}: {what} hold values beyond ±{MAX_ABS_VALUE:g} (first at row {row}), "
            "too large for the 32-bit floats networks compute in; rescale them (divide by a "
            "constant or take logarithms)"
        )
