"""The convolution with a hand-written double backward (issue 7) against PyTorch's own
convolution: values, first, second and third derivatives, and the work it skips."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mdlnas.space.twice as twice
from mdlnas.space.twice import convolution, twice_differentiable

# (dim, in channels, out channels, kernel, stride, padding, dilation, groups)
GEOMETRIES = [
    (1, 3, 4, 3, 1, 1, 1, 1),
    (1, 4, 4, 3, 2, 1, 1, 4),  # depthwise, strided (a reduction edge's separable conv)
    (1, 4, 4, 5, 1, 4, 2, 1),  # dilated
    (1, 4, 4, 1, 2, 0, 1, 1),  # strided 1x1 (a reduction edge's identity)
    (2, 3, 4, 3, 1, 1, 1, 1),
    (2, 4, 4, 3, 2, 1, 1, 4),
    (2, 4, 4, 3, 1, 2, 2, 2),
]


def _tensors(geometry: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    dim, c_in, c_out, kernel, *_, groups = geometry
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((3, c_in) + (7,) * dim, dtype=torch.float64, generator=generator)
    w = torch.randn((c_out, c_in // groups) + (kernel,) * dim, dtype=torch.float64,
                    generator=generator)
    return x.requires_grad_(), w.requires_grad_()


def _native(x: torch.Tensor, w: torch.Tensor, geometry: tuple[int, ...]) -> torch.Tensor:
    dim, *_, stride, padding, dilation, groups = geometry
    conv = F.conv1d if dim == 1 else F.conv2d
    return conv(x, w, None, stride, padding, dilation, groups)


def _ours(x: torch.Tensor, w: torch.Tensor, geometry: tuple[int, ...]) -> torch.Tensor:
    *_, stride, padding, dilation, groups = geometry
    with twice_differentiable():
        return convolution(x, w, None, stride, padding, dilation, groups)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_second_derivatives_match_pytorch(geometry: tuple[int, ...]) -> None:
    x, w = _tensors(geometry)
    torch.testing.assert_close(_ours(x, w, geometry), _native(x, w, geometry))
    # a non-linear function of the output, so that every second-order term is non-zero
    assert torch.autograd.gradgradcheck(lambda x, w: _ours(x, w, geometry).sin(), (x, w))
    hvps = []
    for conv in (_ours, _native):
        gx, gw = torch.autograd.grad(conv(x, w, geometry).sin().sum(), (x, w),
                                     create_graph=True)
        hvps.append(torch.autograd.grad(gx.pow(2).sum() + gw.pow(2).sum(), (x, w)))
    for ours, native in zip(*hvps, strict=True):
        torch.testing.assert_close(ours, native)


def test_third_derivative_follows_pytorch() -> None:
    geometry = GEOMETRIES[0]
    results = []
    for conv in (_ours, _native):
        x, w = _tensors(geometry, seed=1)
        gx, gw = torch.autograd.grad(conv(x, w, geometry).pow(3).sum(), (x, w),
                                     create_graph=True)
        hx, hw = torch.autograd.grad(gx.pow(2).sum() + gw.pow(2).sum(), (x, w),
                                     create_graph=True)
        results.append(torch.autograd.grad(hx.pow(2).sum() + hw.pow(2).sum(), (x, w)))
    for ours, native in zip(*results, strict=True):
        torch.testing.assert_close(ours, native)


def test_only_inside_the_context_and_with_gradients() -> None:
    x, w = _tensors(GEOMETRIES[0])
    assert type(convolution(x, w, None, 1, 1, 1, 1).grad_fn).__name__ == "ConvolutionBackward0"
    with twice_differentiable():
        assert convolution(x, w, None, 1, 1, 1, 1).grad_fn is not None
        assert type(convolution(x, w, None, 1, 1, 1, 1).grad_fn).__name__ != (
            "ConvolutionBackward0")
        with torch.no_grad():
            assert convolution(x, w, None, 1, 1, 1, 1).grad_fn is None
    bias = torch.randn(4, dtype=torch.float64)
    with twice_differentiable():
        torch.testing.assert_close(convolution(x, w, bias, 1, 1, 1, 1),
                                   F.conv1d(x, w, bias, 1, 1, 1, 1))


def test_double_backward_to_another_input_skips_the_weight_gradient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hypergradient differentiates the weight gradient only towards α: the weights'
    own second derivative would be a wasted convolution per layer."""
    calls: list[tuple[bool, bool]] = []
    original = twice._Geometry.backward

    def spy(self, gy, x, weight, need_x, need_weight):  # type: ignore[no-untyped-def]
        calls.append((need_x, need_weight))
        return original(self, gy, x, weight, need_x, need_weight)

    monkeypatch.setattr(twice._Geometry, "backward", spy)
    x, w = _tensors(GEOMETRIES[0])
    scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)  # plays α
    out = _ours(x.detach() * scale, w, GEOMETRIES[0])
    (gw,) = torch.autograd.grad(out.sin().sum(), (w,), create_graph=True)
    assert [need_weight for _, need_weight in calls] == [True]  # the first backward
    calls.clear()
    torch.autograd.grad((gw * torch.ones_like(gw)).sum(), (scale,))
    assert calls and not any(need_weight for _, need_weight in calls)
