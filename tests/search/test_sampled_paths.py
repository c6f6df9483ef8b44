"""Sampled paths (``--relaxation gumbel``): one op per edge, straight-through gradients.

Checked against computations that do not use the supernet's sampling code: the gradient of
a one-edge supernet by hand, the expected description length by enumerating every path,
the sample frequencies against softmax(α); then the hypergradients and determinism (resume
with sampled paths: tests/search/test_checkpoint.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig
from mdlnas.search import hypergradient as fast
from mdlnas.search import method
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import make_objective
from mdlnas.space.relaxation import sample_paths, temperature
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise, total_kl
from tests.search.test_checkpoint import blobs

ONE_EDGE = SpaceConfig("mlp", 0, ("linear", "identity", "zero"), 1, 1, 4)
TINY = SpaceConfig("conv1d", 1, ("conv_3", "max_pool_3", "identity", "zero"), 2, 2, 3, (1,))
TINY_MLP = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 8)


def _gumbel_supernet(space: SpaceConfig, shape: tuple[int, ...], seed: int = 0,
                     variational: bool = True) -> Supernet:
    torch.manual_seed(seed)
    bayes = BayesConfig(init_sigma=0.05, variational=variational)
    model = Supernet(space, shape, 3, "classification", bayes).double().train()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.copy_(torch.randn_like(a))
    model.relaxation = "gumbel"
    return model


def test_straight_through_gradient_of_one_edge_by_hand() -> None:
    """One edge, ops (linear, identity, zero), point weights: the pass computes only the
    sampled op ``k`` and ``∂F/∂α_j = ⟨∂F/∂out, o_k(x)⟩ · s_k (δ_kj − s_j) / τ`` with
    ``s = softmax((α + g) / τ)`` for the Gumbel draw ``g`` of the noise stream."""
    model = _gumbel_supernet(ONE_EDGE, (5,), variational=False)
    model.tau = 0.7
    mixed = model.cells[0].mixed[0]
    ops = {"linear": mixed.chosen(0), "identity": torch.nn.Identity(), "zero": torch.zeros_like}
    x = torch.randn(6, 5, dtype=torch.float64)
    seen = set()
    for seed in range(40):
        with common_noise(seed):
            loss = model(x).pow(2).sum()
        (grad,) = torch.autograd.grad(loss, [model.alpha_normal])
        # the draw, made independently: common_noise seeds a generator with `seed`
        u = torch.rand((1, 3), dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed)).clamp(1e-10, 1 - 1e-10)
        noisy = model.alpha_normal.detach() + (-torch.log(-torch.log(u)))
        k = int(noisy.argmax())
        s = torch.softmax(noisy / model.tau, dim=-1)[0]
        seen.add(k)
        # ∂loss/∂(edge output): the network after the edge, fed the op's output as a leaf
        h0 = model.transitions[0](model.stem(x))
        edge_out = ops[ONE_EDGE.ops[k]](h0).detach().requires_grad_(True)
        rest = model.with_direct(x, model.head(edge_out)).pow(2).sum()
        (d_out,) = torch.autograd.grad(rest, [edge_out])
        inner = float((d_out * edge_out.detach()).sum())
        expected = torch.tensor([inner * float(s[k]) * ((j == k) - float(s[j])) / model.tau
                                 for j in range(3)], dtype=torch.float64)
        torch.testing.assert_close(grad[0], expected, rtol=1e-8, atol=1e-10)
    assert seen == {0, 1, 2}, "every op should have been drawn in 40 tries"


def test_sampled_ops_follow_softmax_alpha() -> None:
    """Gumbel-max: the op drawn on an edge is distributed as softmax(α), whatever τ is."""
    alpha = torch.tensor([[1.0, 0.0, -1.0, 0.5]], dtype=torch.float64)
    counts = np.zeros(4)
    n = 4000
    with common_noise(7):
        for _ in range(n):
            counts[sample_paths(alpha, tau=3.0).choices[0]] += 1
    expected = torch.softmax(alpha, -1)[0].numpy()
    # four standard deviations of a binomial frequency
    assert np.all(np.abs(counts / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n))


def test_sampled_weights_are_one_hot_in_value() -> None:
    alpha = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    with common_noise(3):
        paths = sample_paths(alpha, tau=0.5)
    hard = torch.nn.functional.one_hot(torch.tensor(paths.choices), 4).double()
    torch.testing.assert_close(paths.weights.detach(), hard, rtol=0, atol=1e-12)


def test_expected_description_length_is_the_mean_over_all_paths() -> None:
    """Σ over every path (one op per edge of each cell type) of its probability times the
    description length of its weights (frame plus the ops on the path, each in full)
    equals the supernet's expected description length, the quantity a gumbel search
    charges."""
    model = _gumbel_supernet(TINY, (2, 8))
    gammas = {k: g.detach() for k, g in model.mixing_weights().items()}
    n_edges, n_ops = gammas["normal"].shape
    kl = {}  # (cell type, edge, op) -> KL summed over the cells of that type
    for cell, (_, reduction) in zip(model.cells, model.plan, strict=True):
        kind = "reduce" if reduction else "normal"
        for e, mixed in enumerate(cell.mixed_ops()):
            for o in range(n_ops):
                value = float(total_kl(mixed.chosen(o)).detach()) if o in mixed.active else 0.0
                kl[kind, e, o] = kl.get((kind, e, o), 0.0) + value
    frame = float(model.fixed_kl())
    total = 0.0
    for normal in itertools.product(range(n_ops), repeat=n_edges):
        for reduce in itertools.product(range(n_ops), repeat=n_edges):
            p, dl = 1.0, frame
            for kind, path in (("normal", normal), ("reduce", reduce)):
                for e, o in enumerate(path):
                    p *= float(gammas[kind][e, o])
                    dl += kl[kind, e, o]
            total += p * dl
    assert float(model.description_length()) == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("xi", [0.0, 0.05])
def test_fast_hypergradient_equals_the_plain_one_on_sampled_paths(xi: float) -> None:
    """The fixed noise fixes the path, so F(w, α) is one function and the fast
    hypergradient is the method's plain double backward of it."""
    model = _gumbel_supernet(TINY, (2, 8))
    model.tau = 0.5
    g = torch.Generator().manual_seed(1)
    x_t, x_v = (torch.randn(10, 2, 8, generator=g, dtype=torch.float64) for _ in range(2))
    y_t, y_v = (torch.randint(0, 3, (10,), generator=g) for _ in range(2))
    f_train = make_objective(model, x_t, y_t, lam=1.0, m=40, noise_seed=2)
    f_val = make_objective(model, x_v, y_v, lam=1.0, m=40, noise_seed=3)
    w, a = model.weight_parameters(), model.arch_parameters()
    plain = method.hypergradient(f_train, f_val, w, a, xi)
    quick = fast.hypergradient(f_train, f_val, w, a, xi, "exact")
    for p, q in zip(plain, quick, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-10, atol=1e-12)
        assert float(p.abs().max()) > 0
    if xi > 0:  # the finite difference approaches the exact mixed term
        fd = fast.hypergradient(f_train, f_val, w, a, xi, "fd")
        for p, q in zip(plain, fd, strict=True):
            torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-6)


def _gumbel_config(**kw: object) -> SearchConfig:
    base: dict[str, object] = {"max_epochs": 6, "batch_size": 32, "device": "cpu", "tol": 0.0,
                               "xi": 0.1, "calibration_epochs": 1, "relaxation": "gumbel"}
    base.update(kw)
    return SearchConfig(**base)  # type: ignore[arg-type]


def test_gumbel_search_is_deterministic_and_moves_alpha() -> None:
    data, cfg = blobs(), _gumbel_config()
    runs = []
    for _ in range(2):
        state = BilevelSearch(data, TINY_MLP, cfg)
        while not state.finished:
            state.run_epoch()
        runs.append(state)
    a, b = ([p.detach().numpy() for p in s.model.arch_parameters()] for s in runs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert max(float(np.abs(x).max()) for x in a) > 1e-2
    other = BilevelSearch(data, TINY_MLP, _gumbel_config(seed=1))
    while not other.finished:
        other.run_epoch()
    assert not np.array_equal(a[0], other.model.alpha_normal.detach().numpy())


def test_evaluation_runs_the_most_probable_path() -> None:
    """In evaluation mode nothing is drawn: the same output every time, that of the mode
    of the distribution (the argmax op of every edge)."""
    model = _gumbel_supernet(TINY, (2, 8)).eval()
    x = torch.randn(4, 2, 8, dtype=torch.float64)
    first, second = model(x), model(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    model.relaxation = "softmax"
    with torch.no_grad():  # a near one-hot α: the mixture is the mode's network
        for a in model.arch_parameters():
            a.mul_(1e4)
    torch.testing.assert_close(model(x), first, rtol=1e-6, atol=1e-9)


def test_temperature_runs_geometrically_from_start_to_end() -> None:
    assert temperature(10.0, 0.1, 0.0) == pytest.approx(10.0)
    assert temperature(10.0, 0.1, 0.5) == pytest.approx(1.0)
    assert temperature(10.0, 0.1, 1.0) == pytest.approx(0.1)
    assert temperature(10.0, 0.1, 2.0) == pytest.approx(0.1)  # clamped
    assert math.isclose(temperature(2.0, 2.0, 0.3), 2.0)
