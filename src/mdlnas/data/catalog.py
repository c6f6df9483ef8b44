"""The dataset registry and :func:`load_data`, the one entry point of the data layer.

Built-in datasets are registered here, explicitly and in one place; user files are
dispatched on their suffix through a second registry. Every loader has the signature
``(DataConfig) -> DataBundle``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig, ImputeOption, TaskOption
from mdlnas.data.sources import fashion_mnist, mnist1d, npz_file, sklearn_sets, table_file
from mdlnas.errors import DataError, RegistryError
from mdlnas.registry import Registry

Loader = Callable[[DataConfig], DataBundle]

DATASETS: Registry[Loader] = Registry("dataset")
FILE_FORMATS: Registry[Loader] = Registry("file format")

DATASETS.register("digits")(sklearn_sets.load_digits)
DATASETS.register("digits-image")(sklearn_sets.load_digits_image)
DATASETS.register("breast-cancer")(sklearn_sets.load_breast_cancer)
DATASETS.register("wine")(sklearn_sets.load_wine)
DATASETS.register("iris")(sklearn_sets.load_iris)
DATASETS.register("diabetes")(sklearn_sets.load_diabetes)
DATASETS.register("mnist1d")(mnist1d.load_mnist1d)
DATASETS.register("fashion-mnist")(fashion_mnist.load_fashion_mnist)

for _suffix in table_file.SUFFIXES:
    FILE_FORMATS.register(_suffix)(table_file.load_table)
FILE_FORMATS.register(".npz")(npz_file.load_npz)


def dataset_names() -> list[str]:
    """Names of the built-in datasets, sorted."""
    return DATASETS.names()


def resolve_loader(name_or_path: str) -> Loader:
    """The loader for a registered name or a file path with a known suffix."""
    if name_or_path in DATASETS:
        return DATASETS.get(name_or_path)
    suffix = Path(name_or_path).suffix.lower()
    if suffix in FILE_FORMATS:
        return FILE_FORMATS.get(suffix)
    if suffix or os.sep in name_or_path or Path(name_or_path).exists():
        raise DataError(
            f"cannot load {name_or_path!r}: data files must end in "
            f"{', '.join(FILE_FORMATS.names())}"
        )
    raise RegistryError(
        f"unknown dataset {name_or_path!r}; valid names: {', '.join(dataset_names())} "
        f"(or a path to a {' / '.join(FILE_FORMATS.names())} file)"
    )


def load_data(
    name_or_path: str | os.PathLike[str],
    *,
    target: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    data_dir: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    task: TaskOption = "auto",
    signal: int | None = None,
    impute: ImputeOption | None = None,
) -> DataBundle:
    """Load a built-in dataset or a user file, split and scaled (see :class:`DataConfig`).

    >>> bundle = load_data("iris", seed=1)
    >>> (len(bundle.train), len(bundle.val), len(bundle.test), bundle.input_shape)
    (90, 30, 30, (4,))
    """
    config = DataConfig(
        name=os.fspath(name_or_path),
        target=target,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        data_dir=None if data_dir is None else os.fspath(data_dir),
        n_train=n_train,
        task=task,
        signal=signal,
        impute=impute,
    )
    return load(config)


def load(config: DataConfig) -> DataBundle:
    """Load the dataset that ``config`` names (for callers that already hold a config)."""
    return resolve_loader(config.name)(config)
