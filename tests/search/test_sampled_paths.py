"""Sampled paths: one op per edge, straight-through (``--relaxation gumbel``) or
score-function (``reinforce``) gradients.

Checked against computations that do not use the supernet's sampling code: the gradient of
a one-edge supernet by hand, the score-function estimate's mean against the exact gradient
of the expectation over every path, the expected description length by enumerating every
path, the sample frequencies against softmax(α); then the hypergradients and determinism
(resume with sampled paths: tests/search/test_checkpoint.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mdlnas.config import BayesConfig, Relaxation, SearchConfig, SpaceConfig
from mdlnas.search import hypergradient as fast
from mdlnas.search import method
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import make_objective
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.space.relaxation import sample_paths, temperature
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise, total_kl
from tests.search.test_checkpoint import blobs

ONE_EDGE = SpaceConfig("mlp", 0, ("linear", "identity", "zero"), 1, 1, 4)
# without zero: a drawn path then is exactly a discrete network (a zero edge would leave the
# head's bias, which the linear model of an empty cell does not have)
ONE_EDGE_NONZERO = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity"), 1, 1, 4)
TINY = SpaceConfig("conv1d", 1, ("conv_3", "max_pool_3", "identity", "zero"), 2, 2, 3, (1,))
TINY_MLP = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 8)


def _gumbel_supernet(space: SpaceConfig, shape: tuple[int, ...], seed: int = 0,
                     variational: bool = True, relaxation: Relaxation = "gumbel") -> Supernet:
    torch.manual_seed(seed)
    bayes = BayesConfig(init_sigma=0.05, variational=variational)
    model = Supernet(space, shape, 3, "classification", bayes).double().train()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.copy_(torch.randn_like(a))
    model.relaxation = relaxation
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


def test_score_function_gradient_is_unbiased_on_one_edge() -> None:
    """``reinforce`` on one edge, point weights, λ = 1: averaged over many batches of drawn
    paths, the estimated ∇_α F equals ``Σ_k ∇_α softmax(α)_k · NLL_k + λ ∇_α DL / m``, the
    exact gradient of the expected free energy, with ``NLL_k`` computed by running each op
    as a discrete path."""
    model = _gumbel_supernet(ONE_EDGE_NONZERO, (5,), variational=False, relaxation="reinforce")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (8,), generator=g)
    alpha = model.alpha_normal
    m = 50
    # the exact gradient: every op as a one-op path (forward_path needs no sampling code)
    with torch.no_grad():
        nll = torch.stack([
            torch.nn.functional.cross_entropy(model.forward_path(x, _one_edge(op)), y)
            for op in ONE_EDGE_NONZERO.ops])
    expected_value = (torch.softmax(alpha, -1)[0] * nll).sum()
    (exact,) = torch.autograd.grad(expected_value, [alpha])
    (dl_grad,) = torch.autograd.grad(method.expected_description_length(model) / m, [alpha])
    exact = exact + dl_grad
    draws = []
    for seed in range(3000):
        objective = make_objective(model, x, y, lam=1.0, m=m, noise_seed=seed, paths=3)
        (grad,) = torch.autograd.grad(objective(model.weight_parameters(), [alpha]), [alpha])
        draws.append(grad)
    stacked = torch.stack(draws)  # (draws, 1, 3)
    error = (stacked.mean(0) - exact).abs()
    standard_error = stacked.std(0) / math.sqrt(len(draws))
    assert bool((error < 4 * standard_error + 1e-12).all()), (error, standard_error)
    assert float(standard_error.max()) < 0.1 * float(exact.abs().max())  # a sharp check


def test_score_function_value_and_weight_gradient_are_the_drawn_paths_mean() -> None:
    """The ``reinforce`` objective's value and its gradient in the weights are those of
    the mean NLL of the paths it drew (redrawn here from the same noise stream, each run
    as a discrete path), plus λ · DL / m."""
    model = _gumbel_supernet(ONE_EDGE_NONZERO, (5,), variational=False, relaxation="reinforce")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (8,), generator=g)
    weights, alpha = model.weight_parameters(), model.alpha_normal.detach()
    for seed in range(5):
        objective = make_objective(model, x, y, lam=1.0, m=50, noise_seed=seed, paths=4)
        value = objective(weights, [model.alpha_normal])
        got = torch.autograd.grad(value, weights, allow_unused=True)
        stream = torch.Generator().manual_seed(seed)
        drawn = [int((alpha - torch.log(-torch.log(
            torch.rand((1, 3), dtype=torch.float64, generator=stream).clamp(1e-10, 1 - 1e-10)
        ))).argmax()) for _ in range(4)]
        nll = torch.stack([torch.nn.functional.cross_entropy(
            model.forward_path(x, _one_edge(ONE_EDGE_NONZERO.ops[k])), y) for k in drawn]).mean()
        expected = nll + method.expected_description_length(model) / 50
        torch.testing.assert_close(value, expected, rtol=1e-10, atol=1e-12)
        want = torch.autograd.grad(expected, weights, allow_unused=True)
        for a, b in zip(got, want, strict=True):
            if a is None or b is None:
                assert a is None or float(a.abs().max()) == 0
                assert b is None or float(b.abs().max()) == 0
            else:
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def _one_edge(op: str) -> Genotype:
    cell = CellGenotype(1, (Edge(0, 1, op),))
    return Genotype(ONE_EDGE_NONZERO, "classification", (5,), 3, cell, None)


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


@pytest.mark.parametrize("relaxation", ["gumbel", "reinforce"])
def test_uniform_paths_ignore_alpha(relaxation: Relaxation) -> None:
    """``--weight-paths uniform``: inside ``uniform_paths`` a training pass draws every op
    of an edge equally often however peaked α is; outside, the peak is drawn."""
    model = _gumbel_supernet(TINY_MLP, (5,), relaxation=relaxation)
    with torch.no_grad():
        model.alpha_normal[:, 0] = 8.0  # softmax puts > 0.99 on op 0
    n, n_ops = 1500, len(TINY_MLP.ops)
    counts, peaked = np.zeros(n_ops), 0
    with common_noise(5):
        for _ in range(n):
            with model.uniform_paths():
                counts[model.sampled_paths()["normal"].choices[0]] += 1
            peaked += model.sampled_paths()["normal"].choices[0] == 0
    p = 1 / n_ops
    assert np.all(np.abs(counts / n - p) < 4 * math.sqrt(p * (1 - p) / n)), counts
    assert peaked > 0.98 * n


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
    frame = float(model.fixed_kl().detach())
    total = 0.0
    for normal in itertools.product(range(n_ops), repeat=n_edges):
        for reduce in itertools.product(range(n_ops), repeat=n_edges):
            p, dl = 1.0, frame
            for kind, path in (("normal", normal), ("reduce", reduce)):
                for e, o in enumerate(path):
                    p *= float(gammas[kind][e, o])
                    dl += kl[kind, e, o]
            total += p * dl
    assert float(model.description_length().detach()) == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("relaxation", ["gumbel", "reinforce"])
@pytest.mark.parametrize("xi", [0.0, 0.05])
def test_fast_hypergradient_equals_the_plain_one_on_sampled_paths(
    xi: float, relaxation: Relaxation
) -> None:
    """The fixed noise fixes the paths, so F(w, α) is one function and the fast
    hypergradient is the method's plain double backward of it (with ``reinforce``, of the
    score-function estimate over three paths)."""
    model = _gumbel_supernet(TINY, (2, 8), relaxation=relaxation)
    model.tau = 0.5
    paths = 3 if relaxation == "reinforce" else 1
    g = torch.Generator().manual_seed(1)
    x_t, x_v = (torch.randn(10, 2, 8, generator=g, dtype=torch.float64) for _ in range(2))
    y_t, y_v = (torch.randint(0, 3, (10,), generator=g) for _ in range(2))
    f_train = make_objective(model, x_t, y_t, lam=1.0, m=40, noise_seed=2, paths=paths)
    f_val = make_objective(model, x_v, y_v, lam=1.0, m=40, noise_seed=3, paths=paths)
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


@pytest.mark.parametrize("relaxation", ["gumbel", "reinforce"])
def test_sampled_search_is_deterministic_and_moves_alpha(relaxation: Relaxation) -> None:
    data, cfg = blobs(), _gumbel_config(relaxation=relaxation)
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
    other = BilevelSearch(data, TINY_MLP, _gumbel_config(seed=1, relaxation=relaxation))
    while not other.finished:
        other.run_epoch()
    assert not np.array_equal(a[0], other.model.alpha_normal.detach().numpy())


@pytest.mark.parametrize("paths", [2, 5])
def test_reinforce_second_order_term_draws_two_paths(paths: int) -> None:
    """The validation objective runs ``--paths`` networks, the training one (which enters
    only the second-order term) two, the fewest a leave-one-out baseline takes; the weight
    step one."""
    data = blobs()
    state = BilevelSearch(data, TINY_MLP, _gumbel_config(relaxation="reinforce", paths=paths))
    runs = 0

    def count(*_: object) -> None:
        nonlocal runs
        runs += 1

    state.model.register_forward_hook(count)
    x, y = torch.as_tensor(data.train.x[:8]), torch.as_tensor(data.train.y[:8])
    objectives = state._objectives((x, y), (x, y), lam=1.0)
    w, a = state.model.weight_parameters(), state.model.arch_parameters()
    for run, expected in ((lambda: objectives.val(w, a), paths),
                          (lambda: objectives.train(w, a), 2), (objectives.weights, 1)):
        runs = 0
        run()
        assert runs == expected


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


def test_a_sampled_pooling_edge_is_normalised_and_the_derived_one_is_not() -> None:
    """A drawn path's pooling edge is normalised per channel over the batch and positions
    (as DARTS's search normalises its pools), in training and in evaluation; the same op
    of a discrete path (what the derived network computes) pools alone."""
    model = _gumbel_supernet(TINY, (2, 8), relaxation="reinforce")
    mixed = model.cells[0].mixed[0]
    pool = TINY.ops.index("max_pool_3")
    x = torch.randn(5, 3, 8, dtype=torch.float64) * 4 + 2
    raw = torch.nn.functional.max_pool1d(x, 3, 1, 1)
    mean = raw.mean(dim=(0, 2), keepdim=True)
    var = raw.var(dim=(0, 2), unbiased=False, keepdim=True)
    by_hand = (raw - mean) / torch.sqrt(var + 1e-5)
    one_hot = torch.nn.functional.one_hot(torch.tensor(pool), len(TINY.ops)).double()
    for mode in (model.train, model.eval):
        mode()
        torch.testing.assert_close(mixed.forward_sampled(x, one_hot, pool), by_hand)
    torch.testing.assert_close(mixed.forward_one(x, pool), raw)
    single = x[:1, :, :1]  # one value per channel: nothing to normalise over
    torch.testing.assert_close(mixed.forward_sampled(single, one_hot, pool), single)
    conv = TINY.ops.index("conv_3")  # a parametric op keeps its own normalisation only
    one_hot = torch.nn.functional.one_hot(torch.tensor(conv), len(TINY.ops)).double()
    with common_noise(3):
        sampled = mixed.forward_sampled(x, one_hot, conv)
    with common_noise(3):
        torch.testing.assert_close(sampled, mixed.forward_one(x, conv))


def test_temperature_runs_geometrically_from_start_to_end() -> None:
    assert temperature(10.0, 0.1, 0.0) == pytest.approx(10.0)
    assert temperature(10.0, 0.1, 0.5) == pytest.approx(1.0)
    assert temperature(10.0, 0.1, 1.0) == pytest.approx(0.1)
    assert temperature(10.0, 0.1, 2.0) == pytest.approx(0.1)  # clamped
    assert math.isclose(temperature(2.0, 2.0, 0.3), 2.0)
