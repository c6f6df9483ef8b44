"""Scaling statistics against a direct numpy computation."""

from __future__ import annotations

import numpy as np
import pytest

from mdlnas.data.bundle import Scaling
from mdlnas.data.scaling import fit_scaling


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((200, 5), (0,)), ((50, 3, 40), (0, 2)), ((30, 2, 6, 7), (0, 2, 3))],
)
def test_per_feature_and_per_channel_statistics(
    shape: tuple[int, ...], axes: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(0)
    # Per-feature / per-channel offsets and spreads of very different sizes.
    channel_shape = (shape[1],) + (1,) * (len(shape) - 2)
    offset = rng.normal(size=channel_shape) * 1e3
    spread = np.exp(rng.normal(size=channel_shape) * 3)
    x = (rng.normal(size=shape) * spread + offset).astype(np.float32)
    scaling = fit_scaling(x, None)
    expected_mean = x.astype(np.float64).mean(axis=axes, keepdims=True)[0]
    expected_std = x.astype(np.float64).std(axis=axes, keepdims=True)[0]
    assert scaling.x_mean.shape == scaling.x_std.shape == channel_shape
    np.testing.assert_allclose(scaling.x_mean, expected_mean, rtol=1e-6)
    np.testing.assert_allclose(scaling.x_std, expected_std, rtol=1e-5)
    scaled = scaling.transform_x(x)
    assert scaled.dtype == np.float32
    # Scaled in float32: a narrow feature far from 0 keeps only a few float32 digits.
    np.testing.assert_allclose(scaled.mean(axis=axes, dtype=np.float64), 0.0, atol=1e-3)
    np.testing.assert_allclose(scaled.std(axis=axes, dtype=np.float64), 1.0, rtol=1e-3)


def test_constant_features_get_unit_std_and_map_to_zero() -> None:
    x = np.column_stack([np.full(10, 7.0), np.full(10, 1e6), np.arange(10.0)]).astype(np.float32)
    scaling = fit_scaling(x, None)
    assert scaling.x_std[0] == scaling.x_std[1] == 1.0
    scaled = scaling.transform_x(x)
    assert np.all(scaled[:, :2] == 0.0)
    assert np.isfinite(scaled).all()


def test_regression_targets_round_trip() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(loc=300.0, scale=40.0, size=100)
    scaling = fit_scaling(np.zeros((100, 1), dtype=np.float32), y)
    assert scaling.y_mean == pytest.approx(y.mean()) and scaling.y_std == pytest.approx(y.std())
    scaled = scaling.transform_y(y)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaling.inverse_y(scaled), y, rtol=1e-6)


class _Tensorish:
    """Stands in for a torch tensor: supports * and + and must not become a numpy array."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def __mul__(self, other: float) -> _Tensorish:
        return _Tensorish([v * other for v in self.values])

    def __add__(self, other: float) -> _Tensorish:
        return _Tensorish([v + other for v in self.values])


def test_inverse_y_keeps_the_input_type() -> None:
    # Training code passes torch tensors; converting them to numpy would break autograd.
    scaling = Scaling(np.zeros(1, np.float32), np.ones(1, np.float32), y_mean=2.0, y_std=3.0)
    back = scaling.inverse_y(_Tensorish([0.0, 1.0]))  # type: ignore[arg-type]
    assert isinstance(back, _Tensorish) and back.values == [2.0, 5.0]
