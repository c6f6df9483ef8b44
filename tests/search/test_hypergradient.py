"""The ξ hypergradient against brute-force autograd through the unrolled step."""

from __future__ import annotations

import pytest
import torch

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.search.functional import make_objective
from mdlnas.search.hypergradient import first_order, hypergradient, second_order
from mdlnas.space.presets import SpaceOverrides, make_space
from mdlnas.space.supernet import Supernet


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return float((_flat(a) - _flat(b)).norm() / _flat(b).norm())


@pytest.fixture
def tiny(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A variational two-node MLP supernet in float64, its objectives with common noise."""
    task = getattr(request, "param", "classification")
    torch.manual_seed(0)
    space = SpaceConfig("t", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 6)
    out_dim = 3 if task == "classification" else 1
    model = Supernet(space, (5,), out_dim, task, BayesConfig(init_sigma=0.05)).double().train()
    x_t, x_v = torch.randn(12, 5, dtype=torch.float64), torch.randn(12, 5, dtype=torch.float64)
    if task == "classification":
        y_t, y_v = torch.randint(0, 3, (12,)), torch.randint(0, 3, (12,))
    else:
        y_t, y_v = torch.randn(12, dtype=torch.float64), torch.randn(12, dtype=torch.float64)
    f_train = make_objective(model, x_t, y_t, lam=1.0, m=50, noise_seed=1)
    f_val = make_objective(model, x_v, y_v, lam=1.0, m=50, noise_seed=2)
    return model, f_train, f_val


def _brute_force(f_train, f_val, weights, alphas, xi):  # type: ignore[no-untyped-def]
    """∇_α F_val(w − ξ∇_w F_train(w, α), α) by differentiating through the unrolled step."""
    w = [t.detach().requires_grad_(True) for t in weights]
    a = [t.detach().requires_grad_(True) for t in alphas]
    g = torch.autograd.grad(f_train(w, a), w, create_graph=True)
    unrolled = [wi - xi * gi for wi, gi in zip(w, g, strict=True)]
    return list(torch.autograd.grad(f_val(unrolled, a), a))


@pytest.mark.parametrize("tiny", ["classification", "regression"], indirect=True)
@pytest.mark.parametrize("xi", [0.05, 0.5])
def test_exact_equals_brute_force(tiny, xi: float) -> None:  # type: ignore[no-untyped-def]
    model, f_train, f_val = tiny
    w, a = model.weight_parameters(), model.arch_parameters()
    exact = hypergradient(f_train, f_val, w, a, xi, "exact")
    assert _rel(exact, _brute_force(f_train, f_val, w, a, xi)) < 1e-4


@pytest.mark.parametrize("tiny", ["classification", "regression"], indirect=True)
def test_finite_difference_agrees_with_exact(tiny) -> None:  # type: ignore[no-untyped-def]
    model, f_train, f_val = tiny
    w, a = model.weight_parameters(), model.arch_parameters()
    exact = hypergradient(f_train, f_val, w, a, 0.1, "exact")
    fd = hypergradient(f_train, f_val, w, a, 0.1, "fd")
    assert _rel(fd, exact) < 1e-2


def test_second_order_term_matters(tiny) -> None:  # type: ignore[no-untyped-def]
    """The comparisons above would be empty if ξ changed nothing."""
    model, f_train, f_val = tiny
    w, a = model.weight_parameters(), model.arch_parameters()
    assert _rel(hypergradient(f_train, f_val, w, a, 0.5), first_order(f_val, w, a)) > 1e-3


def test_xi_zero_is_first_order(tiny) -> None:  # type: ignore[no-untyped-def]
    model, f_train, f_val = tiny
    w, a = model.weight_parameters(), model.arch_parameters()
    direct = list(torch.autograd.grad(f_val(w, a), a))
    for method in ("exact", "fd"):
        assert _rel(hypergradient(f_train, f_val, w, a, 0.0, method), direct) < 1e-12
        assert _rel(second_order(f_train, f_val, w, a, 0.0, method), direct) < 1e-12


def test_common_noise_makes_objectives_deterministic(tiny) -> None:  # type: ignore[no-untyped-def]
    model, f_train, _ = tiny
    w, a = model.weight_parameters(), model.arch_parameters()
    assert f_train(w, a).item() == f_train(w, a).item()
    other = make_objective(
        model,
        torch.randn(12, 5, dtype=torch.float64),
        torch.randint(0, 3, (12,)),
        lam=1.0,
        m=50,
        noise_seed=3,
    )
    assert other(w, a).item() != f_train(w, a).item()


def test_hypergradient_does_not_touch_parameters(tiny) -> None:  # type: ignore[no-untyped-def]
    model, f_train, f_val = tiny
    before = [p.detach().clone() for p in model.parameters()]
    hypergradient(f_train, f_val, model.weight_parameters(), model.arch_parameters(), 0.1, "fd")
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q)
        assert p.grad is None


def test_negative_xi_is_refused(tiny) -> None:  # type: ignore[no-untyped-def]
    model, f_train, f_val = tiny
    with pytest.raises(ValueError, match="xi"):
        hypergradient(f_train, f_val, model.weight_parameters(), model.arch_parameters(), -1.0)


def test_exact_equals_brute_force_on_convolutions() -> None:
    """The exact method records the convolutions' own double backward
    (:mod:`mdlnas.space.twice`); the brute force differentiates PyTorch's."""
    torch.manual_seed(0)
    space = make_space("conv1d", SpaceOverrides(n_nodes=2, layers=3, channels=4))
    model = Supernet(space, (1, 12), 3, "classification",
                     BayesConfig(init_sigma=0.05)).double().train()
    x_t = torch.randn(8, 1, 12, dtype=torch.float64)
    x_v = torch.randn(8, 1, 12, dtype=torch.float64)
    y_t, y_v = torch.randint(0, 3, (8,)), torch.randint(0, 3, (8,))
    f_train = make_objective(model, x_t, y_t, lam=1.0, m=50, noise_seed=1)
    f_val = make_objective(model, x_v, y_v, lam=1.0, m=50, noise_seed=2)
    w, a = model.weight_parameters(), model.arch_parameters()
    exact = hypergradient(f_train, f_val, w, a, 0.5, "exact")
    assert _rel(exact, _brute_force(f_train, f_val, w, a, 0.5)) < 1e-8
    assert _rel(exact, first_order(f_val, w, a)) > 1e-3  # the second-order term is there
