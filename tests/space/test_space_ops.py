"""Every registered op, in every dim it supports, at stride 1 and (for signals and images) 2."""

from __future__ import annotations

import pytest
import torch

from mdlnas.config import BayesConfig
from mdlnas.errors import ConfigError, MdlnasError, RegistryError
from mdlnas.space.ops import OPS, OpContext, build_op, ops_for_dim
from mdlnas.space.variational import VariationalParameter, total_kl

CHANNELS = 8
# Odd sizes on purpose: stride 2 must round the same way in every op (up: ceil(n / 2)),
# or the edges of a reduction cell could not be summed.
SPATIAL = {0: (), 1: (7,), 2: (7, 6)}

CASES = [
    (name, dim, stride)
    for name in OPS.names()
    for dim in sorted(OPS.get(name).dims)
    for stride in ((1, 2) if dim > 0 else (1,))
]
UNSUPPORTED = [(name, dim) for name in OPS.names() for dim in (0, 1, 2)
               if dim not in OPS.get(name).dims]


def _input(dim: int) -> torch.Tensor:
    return torch.randn(4, CHANNELS, *SPATIAL[dim], generator=torch.Generator().manual_seed(0))


def _expected_shape(dim: int, stride: int) -> tuple[int, ...]:
    spatial = tuple((n + stride - 1) // stride for n in SPATIAL[dim])
    return (4, CHANNELS, *spatial)


def _has_weights(op: torch.nn.Module) -> bool:
    return any(True for _ in op.parameters())


@pytest.mark.parametrize(("name", "dim", "stride"), CASES)
def test_op_output_shape_and_cost(name: str, dim: int, stride: int) -> None:
    op = build_op(name, OpContext(dim, CHANNELS, stride, BayesConfig()))
    op.train()
    out = op(_input(dim))
    assert out.shape == _expected_shape(dim, stride)
    assert torch.isfinite(out).all()
    kl = total_kl(op)
    # Identity on a reduction edge is a strided 1x1 projection (documented in ops.py), so it
    # has weights even though the op is registered as parameter-free.
    reduce_identity = name == "identity" and stride == 2
    if OPS.get(name).parametric or reduce_identity:
        assert _has_weights(op)
        assert any(isinstance(m, VariationalParameter) for m in op.modules())
        assert kl.item() > 0
        out.square().mean().backward()  # the weights are trained through the op
        assert all(p.grad is not None for p in op.parameters())
    else:
        assert not _has_weights(op)
        assert kl.item() == 0.0
    if name == "zero":
        assert torch.equal(out, torch.zeros_like(out))
    if name == "identity" and stride == 1:
        assert torch.equal(out, _input(dim))


@pytest.mark.parametrize(("name", "dim", "stride"), [c for c in CASES if OPS.get(c[0]).parametric])
def test_parametric_op_in_deterministic_mode_has_no_kl(name: str, dim: int, stride: int) -> None:
    op = build_op(name, OpContext(dim, CHANNELS, stride, BayesConfig(variational=False)))
    assert _has_weights(op)
    assert not any("rho" in n for n, _ in op.named_parameters())
    assert total_kl(op).item() == 0.0


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_every_dim_has_ops_of_different_cost(dim: int) -> None:
    names = ops_for_dim(dim)
    assert names == [n for n in OPS.names() if dim in OPS.get(n).dims]
    assert "zero" in names
    assert any(OPS.get(n).parametric for n in names)
    assert any(not OPS.get(n).parametric and n != "zero" for n in names)


@pytest.mark.parametrize(("name", "dim"), UNSUPPORTED)
def test_build_op_with_unsupported_dim_lists_fitting_ops(name: str, dim: int) -> None:
    with pytest.raises(ConfigError) as info:
        build_op(name, OpContext(dim, CHANNELS, 1, BayesConfig()))
    message = str(info.value)
    assert repr(name) in message
    for fitting in ops_for_dim(dim):
        assert fitting in message


def test_unknown_op_lists_valid_names() -> None:
    with pytest.raises(RegistryError) as info:
        build_op("conv_7", OpContext(1, CHANNELS, 1, BayesConfig()))
    assert isinstance(info.value, MdlnasError) and isinstance(info.value, KeyError)
    message = str(info.value)
    assert "'conv_7'" in message
    assert all(name in message for name in OPS.names())
    assert not message.startswith('"')  # a plain message, not KeyError's quoted repr
