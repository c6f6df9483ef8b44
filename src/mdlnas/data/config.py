"""Options for loading a dataset: one frozen config, validated where it is built."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mdlnas.errors import ConfigError
from mdlnas.settings import setting

TaskOption = Literal["auto", "classification", "regression"]
_TASK_OPTIONS = ("auto", "classification", "regression")
ImputeOption = Literal["mean", "median"]
IMPUTE_OPTIONS: tuple[ImputeOption, ...] = ("mean", "median")


@dataclass(frozen=True)
class DataConfig:
    """What to load and how to split it.

    ``name`` is a registered dataset name or a path to a table (``.csv``, ``.tsv``,
    ``.txt``) or an ``.npz`` file.
    ``val_fraction`` and ``test_fraction`` are fractions of the whole sample (defaults give
    60/20/20). Datasets that come with their own test part (``mnist1d``, ``fashion-mnist``)
    keep it, ignore ``test_fraction`` and take ``val_fraction`` of their train part.
    ``seed`` fixes the split and any subsampling; the same seed gives the same parts.
    ``n_train`` cuts the training part to that many rows (stratified) for quick runs; the
    validation part shrinks in proportion, the test part is never cut so scores stay
    comparable. ``target`` names the target column of a CSV file (or the target array of
    an NPZ file, default ``y``). ``task`` overrides the inferred task of a user file.

    ``signal`` reads flat features ``(n, features)`` as signals ``(n, signal, length)``:
    the feature columns, in file order, hold the channels one after another (all steps of
    the first channel, then of the second, ...). Data that already has channels (an NPZ
    ``X`` of 3 or 4 axes, ``mnist1d``) is left as it is. ``impute`` fills missing values
    of a table's feature columns with the column's mean or median over the training part;
    unset, a missing value is an error.
    """

    name: str = setting(
        flag="data",
        help="a built-in dataset (see `mdlnas list`) or a .csv / .tsv / .txt / .npz file",
    )
    target: str | None = setting(
        None, flag="target",
        help="the target column of a CSV file (a file without a header row, as the UCR "
        "archive's: its first column unless a position is given), or the target array of an "
        "NPZ file (unset: y)",
    )
    seed: int = setting(
        0, flag="seed", shared=True, cli_help="seed of the split, init and noise",
        help="seed of the split and of any subsampling",
    )
    val_fraction: float = setting(
        0.2, help="fraction of the rows for validation (the architecture's data)"
    )
    test_fraction: float = setting(
        0.2, help="fraction of the rows held out for the one final test (datasets with their "
        "own test part keep it)",
    )
    data_dir: str | None = setting(
        None, flag="data-dir",
        help="directory holding dataset files, e.g. Fashion-MNIST's IDX files (unset: the "
        "usual places)",
    )
    n_train: int | None = setting(
        None, flag="n-train",
        help="use only this many training rows, for quick runs (unset: all; the test part "
        "is never cut)",
    )
    task: TaskOption = setting(
        "auto", help="auto, classification or regression: the task of a user file (auto: "
        "inferred from the target)",
    )
    signal: int | None = setting(
        None, flag="signal", metavar="CHANNELS", const=1,
        help="read the feature columns as time series of this many channels (typed bare: "
        "1), the columns holding one channel after another (unset: as they are; the conv1d "
        "space sets 1)",
    )
    impute: ImputeOption | None = setting(
        None, flag="impute",
        help="fill missing feature values of a table with the column's mean or median over "
        "the training part (unset: missing values are an error)",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("dataset name must be a non-empty string (a name or a file path)")
        if self.target is not None and (not isinstance(self.target, str) or not self.target):
            raise ConfigError(f"target must be a column name or None, got {self.target!r}")
        # bool is an int subclass; seed=True is almost certainly a mistake.
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        _check_fraction("val_fraction", self.val_fraction)
        _check_fraction("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                f"val_fraction + test_fraction must be below 1 to leave rows for training, "
                f"got {self.val_fraction} + {self.test_fraction}"
            )
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir):
            raise ConfigError(f"data_dir must be a directory path or None, got {self.data_dir!r}")
        if self.n_train is not None and (
            isinstance(self.n_train, bool) or not isinstance(self.n_train, int) or self.n_train < 2
        ):
            raise ConfigError(
                f"n_train must be an integer of at least 2 or None, got {self.n_train!r}"
            )
        if self.task not in _TASK_OPTIONS:
            raise ConfigError(f"task must be one of {', '.join(_TASK_OPTIONS)}; got {self.task!r}")
        if self.signal is not None and (
            isinstance(self.signal, bool) or not isinstance(self.signal, int) or self.signal < 1
        ):
            raise ConfigError(
                f"signal must be a number of channels (1 or more) or None, got {self.signal!r}"
            )
        if self.impute is not None and self.impute not in IMPUTE_OPTIONS:
            raise ConfigError(
                f"impute must be one of {', '.join(IMPUTE_OPTIONS)} or None; got {self.impute!r}"
            )


def _check_fraction(label: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{label} must be a number between 0 and 1, got {value!r}")
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise ConfigError(f"{label} must lie strictly between 0 and 1, got {value!r}")
