"""Bad data not covered by test_data_files.py: values float32 cannot hold, samples without
values, targets of odd dtypes, damaged archives, unreadable files. Each is a DataError
saying what is wrong and what to do, never a NaN network or a raw numpy error."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mdlnas.data import load_data
from mdlnas.errors import DataError


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _table(first_value: str, n: int = 12) -> list[str]:
    return ["a,y", f"{first_value},0", *(f"{i},{i % 2}" for i in range(1, n))]


def test_csv_feature_beyond_float32_is_refused(tmp_path: Path) -> None:
    # Finite in float64, infinite once cast to float32: the network would see inf / NaN.
    path = _csv(tmp_path / "big.csv", _table("1e39"))
    with pytest.raises(DataError, match=r"features hold values beyond ±1e\+38 \(first at row 0\)"
                       r".*rescale them"):
        load_data(path, target="y")


def test_npz_feature_beyond_float32_is_refused(tmp_path: Path) -> None:
    x = np.ones((12, 2))
    x[7, 1] = -1e300
    path = tmp_path / "big.npz"
    np.savez(path, X=x, y=np.arange(12) % 2)
    with pytest.raises(DataError, match=r"beyond ±1e\+38 \(first at row 7\)"):
        load_data(path)


def test_regression_target_beyond_float32_is_refused(tmp_path: Path) -> None:
    rows = ["a,y", *(f"{i},{i * 1.5e37}" for i in range(12))]  # the last ones pass 1e38
    with pytest.raises(DataError, match=r"regression targets hold values beyond ±1e\+38"):
        load_data(_csv(tmp_path / "r.csv", rows), target="y", task="regression")


def test_large_but_representable_features_are_scaled_exactly(tmp_path: Path) -> None:
    # Squares of 1e20 overflow float32; the scaling must still see the true spread.
    x = np.array([[1e20 * (i % 3 - 1)] for i in range(30)])
    path = tmp_path / "wide.npz"
    np.savez(path, X=x, y=np.arange(30) % 2)
    bundle = load_data(path)
    assert bundle.scaling is not None
    assert np.isfinite(bundle.scaling.x_std).all() and bundle.scaling.x_std[0] > 1e19
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.rows is not None
        assert np.isfinite(part.x).all() and np.abs(part.x).max() < 10  # z-scores
        unscaled = part.x.astype(np.float64) * bundle.scaling.x_std + bundle.scaling.x_mean
        np.testing.assert_allclose(unscaled, x[part.rows], rtol=1e-6, atol=1e14)


def test_feature_with_a_subnormal_spread_is_treated_as_constant(tmp_path: Path) -> None:
    # A few float32 subnormals among zeros: their spread (about 3e-46) rounds to 0 in
    # float32, and dividing by it would give NaN. Such a feature carries nothing: constant.
    x = np.column_stack([np.arange(40.0), np.where(np.arange(40) % 10 == 0, 1e-45, 0.0)])
    path = tmp_path / "tiny.npz"
    np.savez(path, X=x.astype(np.float32), y=np.arange(40) % 2)
    bundle = load_data(path)
    assert bundle.scaling is not None and bundle.scaling.x_std[1] == 1.0
    assert all(np.isfinite(part.x).all() for part in (bundle.train, bundle.val, bundle.test))


@pytest.mark.parametrize("shape", [(10, 0), (10, 0, 4), (10, 3, 0, 2)])
def test_samples_without_values_are_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "empty.npz"
    np.savez(path, X=np.zeros(shape), y=np.arange(10) % 2)
    with pytest.raises(DataError, match=r"a sample holds no values; every sample needs at "
                       "least one feature"):
        load_data(path)


@pytest.mark.parametrize(
    "y",
    [
        np.arange(12) % 2 + 1j,
        np.array(["2020-01-01", "2021-01-01"] * 6, dtype="datetime64[D]"),
        np.arange(12).astype("timedelta64[s]"),
        np.zeros(12, dtype=[("a", np.int64), ("b", np.float64)]),
    ],
    ids=["complex", "datetime", "timedelta", "structured"],
)
def test_targets_of_other_dtypes_are_refused(tmp_path: Path, y: np.ndarray) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, X=np.arange(24.0).reshape(12, 2), y=y)
    with pytest.raises(DataError, match="targets must be numbers, booleans or text, got dtype"):
        load_data(path)


def test_damaged_compressed_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "damaged.npz"
    np.savez_compressed(path, X=np.random.default_rng(0).normal(size=(50, 4)),
                        y=np.arange(50) % 2)
    content = bytearray(path.read_bytes())
    content[100:140] = bytes(40)  # zero a stretch of the deflated X.npy
    path.write_bytes(bytes(content))
    with pytest.raises(DataError, match="cannot read NPZ file"):
        load_data(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs file permissions that apply (not root)")
def test_unreadable_csv_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "locked.csv", _table("0"))
    path.chmod(0)
    with pytest.raises(DataError, match=r"cannot read CSV file .*Permission denied"):
        load_data(path, target="y")
