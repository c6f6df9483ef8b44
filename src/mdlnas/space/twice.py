"""A convolution with a cheaper double backward.

The exact hypergradient differentiates the training gradient once more (double
backward). PyTorch's rule for a convolution's double backward goes through generic
``_convolution`` calls, many of which miss oneDNN's kernels: a profile of one conv1d
double backward (batch 64) counted 1,344 calls of the slow reference convolutions, one
per group of each depthwise convolution. Measured side by side in one process
(``benchmarks/exact_ab.py``), the exact step with this module took 0.92 of the time on
conv2d (batch 32) and 0.97 on conv1d (batch 128); the forward+backward of a weight step
is unchanged.

Here the backward of a convolution is itself a function with a hand-written backward.
For ``y = conv(x, W)`` the backward gives ``gx = conv_backward_input(gy, W)`` and
``gW = conv_backward_weight(x, gy)``, both linear in each argument, so with ``u_x`` and
``u_W`` the gradients arriving at ``gx`` and ``gW``:

    d/d gy = conv(u_x, W) + conv(x, u_W)
    d/d x  = conv_backward_input(gy, u_W)
    d/d W  = conv_backward_weight(u_x, gy)

four calls of the same kernels a forward+backward uses, each only when its input needs a
gradient. The values are PyTorch's own (the same kernels); only the bookkeeping differs,
which costs a little Python per call, so it is used only where a second derivative will be
taken: inside :func:`twice_differentiable`. The double backward is written with
differentiable calls, so a third derivative, if one is ever taken, follows PyTorch's own
rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

_twice: ContextVar[bool] = ContextVar("twice_differentiable", default=False)


@contextlib.contextmanager
def twice_differentiable(enabled: bool = True) -> Iterator[None]:
    """Build graphs whose backward will itself be differentiated (the exact hypergradient's
    training objective): convolutions record the cheaper double backward of this module."""
    token = _twice.set(enabled)
    try:
        yield
    finally:
        _twice.reset(token)


class _Geometry:
    """The arguments that fix a convolution besides its input and weight."""

    __slots__ = ("dilation", "groups", "padding", "stride", "zeros")

    def __init__(self, dim: int, stride: int, padding: int, dilation: int, groups: int) -> None:
        self.stride, self.padding, self.dilation = [stride] * dim, [padding] * dim, [dilation] * dim
        self.groups = groups
        self.zeros = [0] * dim

    def forward(self, x: Tensor, weight: Tensor) -> Tensor:
        return torch.convolution(x, weight, None, self.stride, self.padding, self.dilation,
                                 False, self.zeros, self.groups)

    def backward(self, gy: Tensor, x: Tensor, weight: Tensor,
                 need_x: bool, need_weight: bool) -> tuple[Tensor | None, Tensor | None]:
        gx, gw, _ = torch.ops.aten.convolution_backward(
            gy, x, weight, None, self.stride, self.padding, self.dilation, False, self.zeros,
            self.groups, [need_x, need_weight, False])
        return gx, gw


class _Convolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, geometry: _Geometry) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = geometry
        return geometry.forward(x, weight)

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, weight = ctx.saved_tensors
        if not torch.is_grad_enabled():  # a plain backward (the double backward's own pass)
            gx, gw = ctx.geometry.backward(gy, x, weight, _needed(ctx, 0), _needed(ctx, 1))
        else:
            # The backward whose graph is kept goes to the weights, and what it requires
            # it needs; asking the engine would raise (and catch) an error per weight, 8 ms
            # of a 330 ms conv1d backward.
            gx, gw = _ConvolutionBackward.apply(  # type: ignore[no-untyped-call]
                gy, x, weight, ctx.geometry, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return gx, gw, None


def _needed(ctx: Any, index: int) -> bool:
    """Whether this backward run needs the gradient of input ``index``: not only whether it
    requires one (``needs_input_grad``), but whether the engine will use it. A double
    backward to α never uses the weights' gradient, and computing it would cost a
    convolution per layer."""
    if not ctx.needs_input_grad[index]:
        return False
    node = ctx.next_functions[index][0]
    if node is None:
        return False
    try:
        return bool(torch._C._will_engine_execute_node(node))
    except RuntimeError:
        # PyTorch will not answer for a leaf that autograd.grad was asked for (it answers
        # False for the other leaves): such a gradient is needed.
        return True


class _ConvolutionBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, gy: Tensor, x: Tensor, weight: Tensor, geometry: _Geometry,
                need_x: bool, need_weight: bool) -> tuple[Tensor | None, Tensor | None]:
        ctx.save_for_backward(gy, x, weight)
        ctx.geometry = geometry
        ctx.set_materialize_grads(False)  # an unused output sends None, not zeros to convolve
        return geometry.backward(gy, x, weight, need_x, need_weight)

    @staticmethod
    def backward(ctx: Any, u_x: Tensor | None, u_w: Tensor | None) -> tuple[Any, ...]:
        gy, x, weight = ctx.saved_tensors
        geometry: _Geometry = ctx.geometry
        need_gy, need_x, need_w = (_needed(ctx, i) for i in range(3))
        d_gy = d_x = d_w = None
        if need_gy:
            if u_x is not None:
                d_gy = geometry.forward(u_x, weight)
            if u_w is not None:
                term = geometry.forward(x, u_w)
                d_gy = term if d_gy is None else d_gy + term
        if need_x and u_w is not None:
            d_x = geometry.backward(gy, x, u_w, True, False)[0]
        if need_w and u_x is not None:
            d_w = geometry.backward(gy, u_x, weight, False, True)[1]
        return d_gy, d_x, d_w, None, None, None


def convolution(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int,
                dilation: int, groups: int) -> Tensor:
    """``F.conv1d`` / ``F.conv2d`` (by the weight's rank), with the double backward above
    inside :func:`twice_differentiable` when a gradient will be taken."""
    dim = weight.dim() - 2
    if not (_twice.get() and torch.is_grad_enabled()):
        conv = F.conv1d if dim == 1 else F.conv2d
        return conv(x, weight, bias, stride, padding, dilation, groups)
    geometry = _Geometry(dim, stride, padding, dilation, groups)
    out = _Convolution.apply(x, weight, geometry)  # type: ignore[no-untyped-call]
    assert isinstance(out, Tensor)
    if bias is not None:
        out = out + bias.view(1, -1, *([1] * dim))
    return out
