"""Candidate operations, registered by name.

An op maps a tensor of ``channels`` features (vectors: ``(B, C)``; signals ``(B, C, L)``;
images ``(B, C, H, W)``) to the same number of channels, with ``stride`` 2 on the edges
of a reduction cell. Each entry states which tensor dimensionalities it supports, so one
registry serves the MLP, 1-D and 2-D spaces. The ops differ in cost on purpose: a
description-length search needs cheap and expensive ways to do similar things.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig
from mdlnas.errors import ConfigError
from mdlnas.registry import Registry
from mdlnas.space.variational import VariationalConv, VariationalLinear


@dataclass(frozen=True)
class OpContext:
    """What an op factory needs: tensor dim (0 vectors, 1 signals, 2 images), channels,
    stride and how weights are described."""

    dim: int
    channels: int
    stride: int
    bayes: BayesConfig


@dataclass(frozen=True)
class OpDef:
    build: Callable[[OpContext], nn.Module]
    dims: frozenset[int]
    parametric: bool


OPS: Registry[OpDef] = Registry("op")


def batch_norm(dim: int, channels: int) -> nn.Module:
    # Non-affine BatchNorm, as in DARTS's search: it keeps the scale of summed edges in
    # check without adding weights whose description length would have to be charged.
    if dim == 2:
        return nn.BatchNorm2d(channels, affine=False)
    return nn.BatchNorm1d(channels, affine=False)


def _op(name: str, dims: set[int], parametric: bool = True) -> Callable[
    [Callable[[OpContext], nn.Module]], Callable[[OpContext], nn.Module]
]:
    def add(build: Callable[[OpContext], nn.Module]) -> Callable[[OpContext], nn.Module]:
        OPS.register(name)(OpDef(build, frozenset(dims), parametric))
        return build

    return add


class Zero(nn.Module):
    """The absent edge: zeros of the output shape (a mixed op skips it altogether)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1 or x.dim() == 2:
            return torch.zeros_like(x)
        index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * (x.dim() - 2)
        return torch.zeros_like(x[index])


class Pool(nn.Module):
    def __init__(self, kind: str, dim: int, stride: int) -> None:
        super().__init__()
        self.kind, self.dim, self.stride = kind, dim, stride

    def forward(self, x: Tensor) -> Tensor:
        f = nn.functional
        if self.kind == "max":
            pool = f.max_pool1d if self.dim == 1 else f.max_pool2d
            return pool(x, 3, self.stride, 1)
        avg = f.avg_pool1d if self.dim == 1 else f.avg_pool2d
        return avg(x, 3, self.stride, 1, count_include_pad=False)


def _conv(
    ctx: OpContext,
    c_in: int,
    c_out: int,
    kernel: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> VariationalConv:
    return VariationalConv(
        ctx.dim, c_in, c_out, kernel, ctx.bayes,
        stride=stride, padding=padding, dilation=dilation, groups=groups,
    )


def _relu_conv_norm(ctx: OpContext, kernel: int, dilation: int = 1) -> nn.Module:
    c = ctx.channels
    pad = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.ReLU(),
        _conv(ctx, c, c, kernel, stride=ctx.stride, padding=pad, dilation=dilation),
        batch_norm(ctx.dim, c),
    )


def _dil_conv(ctx: OpContext, kernel: int, dilation: int, stride: int) -> nn.Module:
    """Depthwise (dilated) convolution followed by a pointwise one: ~C·k + C² weights."""
    c = ctx.channels
    pad = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.ReLU(),
        _conv(ctx, c, c, kernel, stride=stride, padding=pad, dilation=dilation, groups=c),
        _conv(ctx, c, c, 1),
        batch_norm(ctx.dim, c),
    )


@_op("zero", {0, 1, 2}, parametric=False)
def _zero(ctx: OpContext) -> nn.Module:
    return Zero(ctx.stride)


@_op("identity", {0, 1, 2}, parametric=False)
def _identity(ctx: OpContext) -> nn.Module:
    if ctx.stride == 1:
        return nn.Identity()
    # A reduction edge cannot pass its input through unchanged; the cheapest faithful
    # stand-in is a strided 1x1 projection (DARTS's factorized reduce plays this role).
    return nn.Sequential(
        nn.ReLU(), _conv(ctx, ctx.channels, ctx.channels, 1, stride=ctx.stride),
        batch_norm(ctx.dim, ctx.channels),
    )


@_op("linear", {0})
def _linear(ctx: OpContext) -> nn.Module:
    c = ctx.channels
    return nn.Sequential(nn.ReLU(), VariationalLinear(c, c, ctx.bayes), batch_norm(0, c))


@_op("linear_bottleneck", {0})
def _linear_bottleneck(ctx: OpContext) -> nn.Module:
    c, narrow = ctx.channels, max(1, ctx.channels // 4)
    return nn.Sequential(
        nn.ReLU(),
        VariationalLinear(c, narrow, ctx.bayes),
        nn.ReLU(),
        VariationalLinear(narrow, c, ctx.bayes),
        batch_norm(0, c),
    )


@_op("conv_3", {1, 2})
def _conv_3(ctx: OpContext) -> nn.Module:
    return _relu_conv_norm(ctx, 3)


@_op("conv_5", {1, 2})
def _conv_5(ctx: OpContext) -> nn.Module:
    return _relu_conv_norm(ctx, 5)


@_op("dil_conv_3", {1, 2})
def _dil_conv_3(ctx: OpContext) -> nn.Module:
    return _dil_conv(ctx, 3, 2, ctx.stride)


@_op("dil_conv_5", {1, 2})
def _dil_conv_5(ctx: OpContext) -> nn.Module:
    return _dil_conv(ctx, 5, 2, ctx.stride)


# Separable convolutions are one depthwise + pointwise block here; DARTS stacks two. One
# block keeps them clearly cheaper than the plain convolutions, which is the contrast a
# description-length search needs, and halves their cost on a CPU.
@_op("sep_conv_3", {1, 2})
def _sep_conv_3(ctx: OpContext) -> nn.Module:
    return _dil_conv(ctx, 3, 1, ctx.stride)


@_op("sep_conv_5", {1, 2})
def _sep_conv_5(ctx: OpContext) -> nn.Module:
    return _dil_conv(ctx, 5, 1, ctx.stride)


@_op("max_pool_3", {1, 2}, parametric=False)
def _max_pool_3(ctx: OpContext) -> nn.Module:
    return Pool("max", ctx.dim, ctx.stride)


@_op("avg_pool_3", {1, 2}, parametric=False)
def _avg_pool_3(ctx: OpContext) -> nn.Module:
    return Pool("avg", ctx.dim, ctx.stride)


def build_op(name: str, ctx: OpContext) -> nn.Module:
    """Build the op ``name`` for ``ctx``, with a clear error if it does not fit the data."""
    definition = OPS.get(name)
    if ctx.dim not in definition.dims:
        fitting = [n for n in OPS.names() if ctx.dim in OPS.get(n).dims]
        raise ConfigError(
            f"op {name!r} does not apply to {_DIM_NAMES[ctx.dim]}; ops that do: "
            f"{', '.join(fitting)}"
        )
    return definition.build(ctx)


def ops_for_dim(dim: int) -> list[str]:
    return [name for name in OPS.names() if dim in OPS.get(name).dims]


_DIM_NAMES = {0: "vectors (MLP spaces)", 1: "signals (1-D spaces)", 2: "images (2-D spaces)"}
