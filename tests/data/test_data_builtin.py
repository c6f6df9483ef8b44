"""Every registered dataset: shapes, dtypes, partition, stratification, scaling, seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from numpy.typing import NDArray

from mdlnas.data import DATASETS, DataBundle, Split, dataset_names
from mdlnas.data.sources.fashion_mnist import DEBIAN_DIR, FILES
from mdlnas.data.sources.idx import read_idx
from mdlnas.data.sources.mnist1d import generate_mnist1d

Load = Callable[..., DataBundle]

# Not imported from conftest: "import conftest" is ambiguous once other test folders have one.
FASHION_PRESENT = all((DEBIAN_DIR / f"{stem}.gz").is_file() for stem in FILES.values())
FASHION_SKIP = pytest.mark.skipif(
    not FASHION_PRESENT,
    reason=f"Fashion-MNIST files absent from {DEBIAN_DIR}: "
    "apt-get install dataset-fashion-mnist to run these tests",
)


@dataclass(frozen=True)
class Expected:
    input_shape: tuple[int, ...]
    n_classes: int  # 0 for regression
    n_rows: int  # rows split three ways, or the train pool of a fixed-test set
    n_test_fixed: int = 0  # rows of a test part shipped with the dataset


EXPECTED = {
    "iris": Expected((4,), 3, 150),
    "wine": Expected((13,), 3, 178),
    "breast-cancer": Expected((30,), 2, 569),
    "digits": Expected((64,), 10, 1797),
    "digits-image": Expected((1, 8, 8), 10, 1797),
    "diabetes": Expected((10,), 0, 442),
    "mnist1d": Expected((1, 40), 10, 4000, n_test_fixed=1000),
    "fashion-mnist": Expected((1, 28, 28), 10, 60000, n_test_fixed=10000),
}


def _names(*, classification_only: bool = False) -> list[object]:
    return [
        pytest.param(name, marks=FASHION_SKIP) if name == "fashion-mnist" else name
        for name in dataset_names()
        if not classification_only or EXPECTED[name].n_classes > 0
    ]


@cache
def source(name: str) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    """The unsplit, unscaled train pool of a built-in set in its native dtype, read
    independently of mdlnas's loaders (except mnist1d, whose generation is checked in
    test_data_sources)."""
    if name == "mnist1d":
        arrays = generate_mnist1d()
        return arrays["x"][:, None], arrays["y"]
    if name == "fashion-mnist":
        x = read_idx(DEBIAN_DIR / f"{FILES['x']}.gz")[:, None]
        return x, read_idx(DEBIAN_DIR / f"{FILES['y']}.gz")
    from sklearn import datasets

    loader = getattr(datasets, "load_" + name.removesuffix("-image").replace("-", "_"))
    bunch = loader()
    x = bunch.images[:, None] if name == "digits-image" else bunch.data
    return np.asarray(x), np.asarray(bunch.target)


# Numeric checks against numpy redo the work in float64; on 48,000 images that takes
# seconds, so they run on a training part cut to 5,000 rows (the same code path).
QUICK = {"fashion-mnist": {"n_train": 5000}}


def _reduce_axes(x: NDArray[np.generic]) -> tuple[int, ...]:
    return (0,) if x.ndim == 2 else (0, *range(2, x.ndim))


def test_every_builtin_has_expectations() -> None:
    assert set(dataset_names()) == set(EXPECTED)
    assert len(DATASETS) == len(EXPECTED)


@pytest.mark.parametrize("name", _names())
def test_shapes_dtypes_and_task(name: str, load_once: Load) -> None:
    bundle, expected = load_once(name), EXPECTED[name]
    assert bundle.name == name
    assert bundle.input_shape == expected.input_shape
    assert bundle.n_classes == expected.n_classes == len(bundle.class_names)
    regression = expected.n_classes == 0
    assert bundle.task == ("regression" if regression else "classification")
    assert bundle.output_dim == (1 if regression else expected.n_classes)
    assert bundle.modality == {1: "tabular", 2: "signal", 3: "image"}[len(expected.input_shape)]
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.x.dtype == np.float32
        assert part.x.shape == (len(part), *expected.input_shape)
        assert part.y.dtype == (np.float32 if regression else np.int64)
        assert np.isfinite(part.x).all()
        if not regression:
            assert part.y.min() >= 0 and part.y.max() < expected.n_classes


@pytest.mark.parametrize("name", _names())
def test_parts_partition_the_source(name: str, load_once: Load) -> None:
    bundle, expected = load_once(name), EXPECTED[name]
    parts = [bundle.train, bundle.val] + ([] if expected.n_test_fixed else [bundle.test])
    rows = [part.rows for part in parts]
    assert all(r is not None for r in rows)
    joined = np.concatenate([r for r in rows if r is not None])
    # Disjoint and complete: every source row is in exactly one part.
    assert np.array_equal(np.sort(joined), np.arange(expected.n_rows))
    n = expected.n_rows
    if expected.n_test_fixed:
        assert bundle.test.rows is not None
        assert np.array_equal(bundle.test.rows, np.arange(expected.n_test_fixed))
        assert len(bundle.val) == int(0.2 * n + 0.5)
    else:
        assert len(bundle.val) == len(bundle.test) == int(0.2 * n + 0.5)
    assert len(bundle.train) == n - len(bundle.val) - (
        0 if expected.n_test_fixed else len(bundle.test)
    )


@pytest.mark.parametrize("name", _names())
def test_samples_are_the_scaled_source_rows(name: str, load_once: Load) -> None:
    bundle = load_once(name, **QUICK.get(name, {}))
    x_source, y_source = source(name)
    assert bundle.scaling is not None
    for part in (bundle.train, bundle.val):
        assert part.rows is not None
        if bundle.task == "classification":
            assert np.array_equal(part.y, y_source[part.rows].astype(np.int64))
        else:
            y_back = bundle.scaling.inverse_y(part.y)
            np.testing.assert_allclose(y_back, y_source[part.rows], rtol=1e-5)
        expected_x = (x_source[part.rows] - bundle.scaling.x_mean) / bundle.scaling.x_std
        np.testing.assert_allclose(part.x, expected_x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", _names())
def test_scaling_is_fitted_on_train_only(name: str, load_once: Load) -> None:
    bundle = load_once(name, **QUICK.get(name, {}))
    scaling = bundle.scaling
    assert scaling is not None and bundle.train.rows is not None
    raw_train = source(name)[0][bundle.train.rows]
    axes = _reduce_axes(raw_train)
    mean = raw_train.mean(axis=axes, dtype=np.float64, keepdims=True)[0]
    std = raw_train.std(axis=axes, dtype=np.float64, keepdims=True)[0]
    varying = std > 1e-6 * np.maximum(np.abs(mean), 1e-12)
    assert scaling.x_mean.shape == mean.shape
    np.testing.assert_allclose(scaling.x_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaling.x_std[varying], std[varying], rtol=1e-5)
    assert np.all(scaling.x_std[~varying] == 1.0)  # constant pixels are not blown up

    scaled = bundle.train.x.astype(np.float64)
    np.testing.assert_allclose(scaled.mean(axis=axes), 0.0, atol=1e-4)
    scaled_std = scaled.std(axis=axes, keepdims=True)[0]
    np.testing.assert_allclose(scaled_std[varying], 1.0, rtol=1e-4)
    # Held-out parts were scaled with the train statistics, so they are not exactly standard.
    assert not np.allclose(bundle.val.x.astype(np.float64).mean(axis=axes), 0.0, atol=1e-6)


@pytest.mark.parametrize("name", _names())
def test_regression_targets_are_standardised_on_train(name: str, load_once: Load) -> None:
    bundle = load_once(name)
    scaling = bundle.scaling
    assert scaling is not None
    if bundle.task == "classification":
        assert (scaling.y_mean, scaling.y_std) == (0.0, 1.0)
        return
    assert bundle.train.rows is not None
    y_train = source(name)[1][bundle.train.rows].astype(np.float64)
    assert scaling.y_mean == pytest.approx(y_train.mean())
    assert scaling.y_std == pytest.approx(y_train.std())
    assert float(bundle.train.y.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(bundle.train.y.std()) == pytest.approx(1.0, rel=1e-5)


def _class_counts(part: Split, k: int) -> NDArray[np.int64]:
    return np.bincount(part.y, minlength=k)


@pytest.mark.parametrize("name", _names(classification_only=True))
def test_classification_parts_are_stratified(name: str, load_once: Load) -> None:
    bundle, expected = load_once(name), EXPECTED[name]
    k = bundle.n_classes
    parts = [bundle.train, bundle.val] + ([] if expected.n_test_fixed else [bundle.test])
    total = np.sum([_class_counts(part, k) for part in parts], axis=0)
    share = total / total.sum()
    bound = 1 + share * max(k - 2, 0) + 1e-9  # the guarantee stated in mdlnas.data.split
    for part in parts:
        assert np.all(np.abs(_class_counts(part, k) - share * len(part)) < bound), part


@pytest.mark.parametrize("name", _names())
def test_same_seed_same_split_other_seed_other_split(name: str, load_once: Load) -> None:
    # fashion-mnist is cut to keep the test fast; the rule is the same for every size.
    n_train = 600 if name == "fashion-mnist" else None
    first = load_once(name, seed=3, n_train=n_train)
    again = load_once.__wrapped__(name, seed=3, n_train=n_train)  # type: ignore[attr-defined]
    other = load_once(name, seed=4, n_train=n_train)
    for a, b in ((first.train, again.train), (first.val, again.val), (first.test, again.test)):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
        assert a.rows is not None and b.rows is not None and np.array_equal(a.rows, b.rows)
    assert first.train.rows is not None and other.train.rows is not None
    assert not np.array_equal(first.train.rows, other.train.rows)


@FASHION_SKIP
def test_fashion_mnist_subsample_keeps_test_and_ratio(load_once: Load) -> None:
    small = load_once("fashion-mnist", n_train=1000)
    assert (len(small.train), len(small.val), len(small.test)) == (1000, 250, 10000)
    assert np.all(np.bincount(small.train.y, minlength=10) == 100)  # 6,000 per class
    assert small.class_names[0] == "T-shirt/top" and small.class_names[9] == "Ankle boot"
