"""DataConfig validation and name resolution in load_data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mdlnas.data as data
from mdlnas.data import DataConfig, load_data
from mdlnas.errors import ConfigError, DataError, MdlnasError, RegistryError


def test_public_api() -> None:
    for name in ("DataBundle", "Split", "Scaling", "DataConfig", "load_data", "DATASETS"):
        assert name in data.__all__
    assert data.dataset_names() == data.DATASETS.names()
    assert {"iris", "mnist1d", "fashion-mnist", "diabetes"} <= set(data.dataset_names())


def test_defaults_are_valid_and_frozen() -> None:
    config = DataConfig("iris")
    assert (config.seed, config.val_fraction, config.test_fraction) == (0, 0.2, 0.2)
    with pytest.raises(AttributeError):
        config.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "non-empty"),
        ({"seed": -1}, "non-negative integer"),
        ({"seed": 1.5}, "non-negative integer"),
        ({"seed": True}, "non-negative integer"),
        ({"val_fraction": 0.0}, "val_fraction must lie strictly between 0 and 1"),
        ({"test_fraction": 1.0}, "test_fraction must lie strictly between 0 and 1"),
        ({"val_fraction": float("nan")}, "strictly between"),
        ({"val_fraction": "0.2"}, "must be a number"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must be below 1"),
        ({"n_train": 1}, "at least 2"),
        ({"n_train": 10.0}, "at least 2"),
        ({"target": ""}, "target must be a column name"),
        ({"data_dir": ""}, "data_dir"),
        ({"task": "clustering"}, "task must be one of auto, classification, regression"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    arguments = {"name": "iris", **options}
    with pytest.raises(ConfigError, match=message):
        DataConfig(**arguments)


def test_load_data_validates_through_config() -> None:
    with pytest.raises(ConfigError, match="val_fraction"):
        load_data("iris", val_fraction=2.0)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(RegistryError, match=r"unknown dataset 'irises'; valid names: .*iris"):
        load_data("irises")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "table.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match=r"must end in \.csv, \.npz, \.tsv, \.txt"):
        load_data(path)


def test_builtin_task_mismatch() -> None:
    with pytest.raises(DataError, match="iris is a classification dataset"):
        load_data("iris", task="regression")


def test_n_train_smaller_than_the_class_count() -> None:
    with pytest.raises(DataError, match="too small to hold all 10 classes"):
        load_data("digits", n_train=5)


def test_n_train_larger_than_available() -> None:
    with pytest.raises(DataError, match="exceeds the 90 rows"):
        load_data("iris", n_train=100)


def test_n_train_cuts_train_and_val_but_not_test() -> None:
    full, cut = load_data("digits", seed=2), load_data("digits", seed=2, n_train=100)
    assert (len(cut.train), len(cut.val), len(cut.test)) == (100, 33, 359)
    assert cut.test.rows is not None and full.test.rows is not None
    assert (cut.test.rows == full.test.rows).all()


def test_errors_share_one_root() -> None:
    for error in (ConfigError, DataError, RegistryError):
        assert issubclass(error, MdlnasError)
