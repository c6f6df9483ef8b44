"""MNIST-1D (Greydanus 2020): 10 digit templates turned into 40-step 1-D signals.

Generated locally with the ``mnist1d`` package's ``make_dataset`` at its default arguments
(5,000 samples, data seed 42: 4,000 train / 1,000 test as in the paper). We never call its
``get_dataset``, which downloads. Generation takes about a second, so the arrays are cached
(see :mod:`mdlnas.data.cache`), keyed by the generation arguments.
"""

from __future__ import annotations

import random
from importlib import metadata
from types import SimpleNamespace

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.assemble import FixedTest, build_bundle
from mdlnas.data.bundle import DataBundle
from mdlnas.data.cache import cache_key, load_arrays, save_arrays
from mdlnas.data.config import DataConfig
from mdlnas.data.targets import Targets
from mdlnas.errors import DataError

CLASS_NAMES = tuple(str(digit) for digit in range(10))
_ARRAYS = ("x", "y", "x_test", "y_test")


# The paper's generation arguments (mnist1d's get_dataset_args() defaults), pinned here so
# the data cannot drift with a new package default and a cache hit needs no import.
GENERATION_ARGS: dict[str, object] = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}


def _package_version() -> str:
    try:
        return metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        raise DataError(
            "dataset 'mnist1d' needs the mnist1d package: pip install mnist1d "
            "(or pip install 'mdlnas[data]')"
        ) from None


def _generate() -> dict[str, NDArray[np.generic]]:
    # Imported here: it pulls in scipy and matplotlib.pyplot (~0.9 s). Never get_dataset,
    # which downloads.
    from mnist1d.data import make_dataset

    args = SimpleNamespace(**GENERATION_ARGS)  # make_dataset reads attributes

    # make_dataset reseeds the global numpy and random generators; put the caller's back.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {name: np.asarray(data[name]) for name in _ARRAYS}


def generate_mnist1d() -> dict[str, NDArray[np.generic]]:
    """Arrays ``x (4000, 40)``, ``y``, ``x_test (1000, 40)``, ``y_test``, from the cache
    when they were generated before."""
    # A new package release may generate differently, so its version is part of the key.
    stem = cache_key("mnist1d", {**GENERATION_ARGS, "mnist1d_version": _package_version()})
    cached = load_arrays(stem)
    if cached is not None and all(name in cached for name in _ARRAYS):
        return cached
    arrays = _generate()
    save_arrays(stem, arrays)
    return arrays


def load_mnist1d(config: DataConfig) -> DataBundle:
    """MNIST-1D as signals of shape (1, 40); val is carved from its train part, its own
    test part is kept."""
    arrays = generate_mnist1d()

    def targets(y: NDArray[np.generic]) -> Targets:
        return Targets("classification", y.astype(np.int64), CLASS_NAMES)

    test = FixedTest(arrays["x_test"][:, None, :], targets(arrays["y_test"]))
    return build_bundle(
        config, config.name, arrays["x"][:, None, :], targets(arrays["y"]), test=test
    )
