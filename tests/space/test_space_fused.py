"""The fused computations of the supernet (issue 7) against the op-by-op ones they replace
(the method's reference, :func:`mdlnas.search.method.expected_description_length`):
the description length (value, gradient, and the mixed second derivative the exact
hypergradient takes) and parameter substitution (against ``torch.func.functional_call``)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from mdlnas.config import BayesConfig
from mdlnas.search.method import expected_description_length
from mdlnas.space.description import flat_concat
from mdlnas.space.presets import SpaceOverrides, make_space
from mdlnas.space.supernet import Supernet

SPACES = [("mlp", (12,)), ("conv1d", (1, 16)), ("conv2d", (1, 8, 8))]


def _supernet(name: str, shape: tuple[int, ...], bayes: BayesConfig,
              family: bool = False) -> Supernet:
    """``family``: two knots, every mean and width following the family, read at 0.7 of its
    range."""
    torch.manual_seed(0)
    layers = None if name == "mlp" else 3  # conv: normal and reduction cells
    model = Supernet(make_space(name, SpaceOverrides(channels=4, layers=layers)), shape, 3,
                     "classification", bayes, knots=2 if family else 1,
                     follow="weights" if family else "none")
    model.position = 0.7
    with torch.no_grad():  # move away from the initial point so every term matters
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.detach().abs().max()) + 1e-6)


@pytest.mark.parametrize(("name", "shape"), SPACES)
@pytest.mark.parametrize(("prior_std", "family"), [(1.0, False), (None, False), (None, True)])
def test_fused_description_length_matches_op_by_op(
    name: str, shape: tuple[int, ...], prior_std: float | None, family: bool
) -> None:
    model = _supernet(name, shape, BayesConfig(prior_std=prior_std, init_sigma=0.05), family)
    params = list(model.parameters())
    fused, by_op = model.description_length(), expected_description_length(model)
    _close(fused, by_op)
    g_fused = torch.autograd.grad(fused, params, create_graph=True, allow_unused=True)
    g_by_op = torch.autograd.grad(by_op, params, create_graph=True, allow_unused=True)
    for a, b in zip(g_fused, g_by_op, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            _close(a, b)
    # ∇_α (∇_w DL · v): the term of the exact second-order hypergradient
    v = [torch.randn_like(p) for p in params]

    def mixed(grads: tuple[torch.Tensor | None, ...]) -> list[torch.Tensor]:
        dot = sum((g * vi).sum() for g, vi in zip(grads, v, strict=True) if g is not None)
        assert isinstance(dot, torch.Tensor)
        return list(torch.autograd.grad(dot, model.arch_parameters()))

    for a, b in zip(mixed(g_fused), mixed(g_by_op), strict=True):
        _close(a, b)


def test_flat_concat_matches_cat_to_the_second_derivative() -> None:
    generator = torch.Generator().manual_seed(0)
    shapes = [(2, 3), (4,), (1, 2, 2)]
    tensors = [torch.randn(s, generator=generator, dtype=torch.float64, requires_grad=True)
               for s in shapes]
    torch.testing.assert_close(flat_concat(tensors),
                               torch.cat([t.reshape(-1) for t in tensors]))
    # a non-linear function of the concatenation, so that second derivatives are not zero
    assert torch.autograd.gradcheck(lambda *ts: flat_concat(ts).sin().sum(), tensors)
    assert torch.autograd.gradgradcheck(lambda *ts: flat_concat(ts).sin() * 2, tensors)


def test_point_weights_describe_nothing() -> None:
    model = _supernet("mlp", (12,), BayesConfig(variational=False))
    with torch.no_grad():
        assert float(model.description_length()) == 0.0 == float(expected_description_length(model))


@pytest.mark.parametrize(("name", "shape"), SPACES)
def test_substituted_matches_functional_call(name: str, shape: tuple[int, ...]) -> None:
    model = _supernet(name, shape, BayesConfig(variational=False))
    model.eval()  # no noise, running BatchNorm statistics: a pure function of the weights
    before = dict(model.named_parameters())
    names = model.weight_names() + model.arch_names()
    params = model.weight_parameters() + model.arch_parameters()
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    replaced = {n: (p.detach() * 1.5).requires_grad_() for n, p in zip(names, params, strict=True)}
    x = torch.randn(5, *shape)
    with model.substituted(replaced):
        ours = model(x)
    reference = functional_call(model, replaced, (x,))
    torch.testing.assert_close(ours, reference)
    grads = torch.autograd.grad(ours.sum(), list(replaced.values()), allow_unused=True)
    ref_grads = torch.autograd.grad(reference.sum(), list(replaced.values()), allow_unused=True)
    for a, b in zip(grads, ref_grads, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            torch.testing.assert_close(a, b)
    # the model's own parameters are back, and untouched
    after = dict(model.named_parameters())
    assert after.keys() == before.keys() and all(after[n] is before[n] for n in before)
    torch.testing.assert_close(model(x), functional_call(model, {}, (x,)))


def test_substituted_restores_after_an_error() -> None:
    model = _supernet("mlp", (12,), BayesConfig())
    original = model.alpha_normal
    with pytest.raises(IndexError), model.substituted({"alpha_normal": torch.zeros(1)}):
        model(torch.randn(2, 12))  # a wrongly shaped α fails inside the forward pass
    assert model.alpha_normal is original
