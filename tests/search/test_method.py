"""The method file's plain reference against the fast paths the search runs.

Whole trainings first (the acceptance test of issue 19): the seed's sin/cos problem and a
tiny supernet are trained once with :mod:`mdlnas.search.method`'s reference functions and
once with the fast path, from the same start with the same noise seeds, in float64 so that
rounding cannot tip an Adam step; α must agree to 1e-6. Then the parts one by one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.distributed import OneProcess, ProcessGroup, data_parallel
from mdlnas.reproduce.sincos import SincosConfig, descend, make_data
from mdlnas.search import hypergradient as fast
from mdlnas.search import method
from mdlnas.search.batches import TensorSplit
from mdlnas.search.darts import REFERENCE, BilevelSearch
from mdlnas.search.functional import make_objective
from mdlnas.space.supernet import Supernet

MLP = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 6)
CONV = SpaceConfig("conv1d", 1, ("conv_3", "sep_conv_3", "max_pool_3", "identity", "zero"),
                   2, 2, 4, (1,))


# -- whole trainings ------------------------------------------------------------------------
@pytest.mark.parametrize("xi", [0.0, 0.3, 1.0])
def test_sincos_trains_the_same_with_the_reference_hypergradient(xi: float) -> None:
    config = SincosConfig(max_steps=400)
    data = make_data(config)
    reference = descend(config, data, xi, hypergradient=method.hypergradient)
    search = descend(config, data, xi)
    assert reference.steps == search.steps > 100
    np.testing.assert_allclose(reference.points, search.points, rtol=0, atol=1e-6)


def _bundle(shape: tuple[int, ...], n: int = 48) -> DataBundle:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1, (n, *shape)) + rng.normal(0, 2, (3, *shape))[y]
    parts = [slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)]
    train, val, test = (Split(x[p].astype(np.float32), y[p].astype(np.int64)) for p in parts)
    return DataBundle("tiny", "classification", train, val, test, shape, 3)


def _in_float64(state: BilevelSearch) -> BilevelSearch:
    """The search's model and data in float64; the optimisers keep the same parameters."""
    state.model.double()
    state.train_split = TensorSplit(state.train_split.x.double(), state.train_split.y)
    state.val_split = TensorSplit(state.val_split.x.double(), state.val_split.y)
    return state


@pytest.mark.parametrize(("space", "shape", "partial"),
                         [(MLP, (5,), 1), (CONV, (2, 8), 1), (CONV, (2, 8), 2)],
                         ids=["mlp", "conv1d", "conv1d-partial-channels"])
def test_a_tiny_supernet_trains_the_same_with_the_reference_functions(
    space: SpaceConfig, shape: tuple[int, ...], partial: int, one_torch_thread: None
) -> None:
    """Variational weights, λ > 0, exact second order: BilevelSearch with the fused
    description length and the fast hypergradient, and with the method file's plain ones;
    with ``partial`` > 1 the edges mix 1/partial of the channels (``--partial-channels``)."""
    config = SearchConfig(max_epochs=3, batch_size=8, device="cpu", tol=0.0, lam=1.0, xi=0.1,
                          hypergradient="exact", calibration_epochs=0, alpha_lr=0.01,
                          partial_channels=partial, bayes=BayesConfig(init_sigma=0.05))
    data = _bundle(shape)
    searches = [_in_float64(BilevelSearch(data, space, config, computation=computation))
                for computation in (REFERENCE, None)]
    for state in searches:
        while not state.finished:
            state.run_epoch()
    reference, search = searches
    assert reference.computation.hypergradient is method.hypergradient
    assert reference.epoch == search.epoch == 3
    for a_ref, a_fast in zip(reference.model.arch_parameters(), search.model.arch_parameters(),
                             strict=True):
        torch.testing.assert_close(a_ref, a_fast, rtol=0, atol=1e-6)
        assert float(a_fast.detach().abs().max()) > 1e-2, "α hardly moved: that proves little"
    # The weights agree as far as they have a gradient: a bias in front of a BatchNorm has
    # none but rounding near its optimum 0, and Adam moves it by ±lr whatever that sign.
    for p_ref, p_fast in zip(reference.model.weight_parameters(),
                             search.model.weight_parameters(), strict=True):
        torch.testing.assert_close(p_ref, p_fast, rtol=0, atol=2 * config.w_lr)
    for r_ref, r_fast in zip(reference.history, search.history, strict=True):
        assert r_ref.val_loss == pytest.approx(r_fast.val_loss, rel=1e-4)
    assert reference.genotype() == search.genotype()


# -- the parts ---------------------------------------------------------------------------------
def _supernet(space: SpaceConfig, shape: tuple[int, ...]) -> tuple[Supernet, method.Objective,
                                                                     method.Objective]:
    torch.manual_seed(0)
    model = Supernet(space, shape, 3, "classification", BayesConfig(init_sigma=0.05))
    model = model.double().train()
    with torch.no_grad():  # away from the initial point, so that every term matters
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    g = torch.Generator().manual_seed(1)
    x_t, x_v = (torch.randn(10, *shape, generator=g, dtype=torch.float64) for _ in range(2))
    y_t, y_v = (torch.randint(0, 3, (10,), generator=g) for _ in range(2))
    f_train = make_objective(model, x_t, y_t, lam=1.0, m=40, noise_seed=2)
    f_val = make_objective(model, x_v, y_v, lam=1.0, m=40, noise_seed=3)
    return model, f_train, f_val


@pytest.mark.parametrize(("space", "shape"), [(MLP, (5,)), (CONV, (2, 8))], ids=["mlp", "conv1d"])
@pytest.mark.parametrize("xi", [0.0, 0.05, 0.5])
def test_fast_hypergradient_equals_the_plain_double_backward(
    space: SpaceConfig, shape: tuple[int, ...], xi: float
) -> None:
    """The recorded double backward (space/twice.py on the convolutions), the foreach step and
    the one dot product give the method's plain double backward to rounding."""
    model, f_train, f_val = _supernet(space, shape)
    w, a = model.weight_parameters(), model.arch_parameters()
    plain = method.hypergradient(f_train, f_val, w, a, xi)
    quick = fast.hypergradient(f_train, f_val, w, a, xi, "exact")
    for p, q in zip(plain, quick, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-10, atol=1e-12)


def test_plain_hypergradient_is_the_derivative_through_the_unrolled_step() -> None:
    """Seed eq. 6 is the total derivative of ``F_val(w − ξ∇_w F_train(w, α), α)`` in α."""
    model, f_train, f_val = _supernet(MLP, (5,))
    w = method.leaves(model.weight_parameters())
    a = method.leaves(model.arch_parameters())
    g = torch.autograd.grad(f_train(w, a), w, create_graph=True)
    unrolled = [wi - 0.3 * gi for wi, gi in zip(w, g, strict=True)]
    brute = torch.autograd.grad(f_val(unrolled, a), a)
    plain = method.hypergradient(f_train, f_val, w, a, 0.3)
    for p, b in zip(plain, brute, strict=True):
        torch.testing.assert_close(p, b, rtol=1e-10, atol=1e-12)


def test_fused_description_length_equals_the_sum_over_ops() -> None:
    """In float64 the fused DL and its gradients are the explicit sum's to rounding (the
    float32 check, with second derivatives, is tests/space/test_space_fused.py)."""
    model, _, _ = _supernet(CONV, (2, 8))
    fused, plain = model.description_length(), method.expected_description_length(model)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=0)
    params = list(model.parameters())
    for g_f, g_p in zip(torch.autograd.grad(fused, params, allow_unused=True),
                        torch.autograd.grad(plain, params, allow_unused=True), strict=True):
        assert (g_f is None) == (g_p is None)
        if g_f is not None and g_p is not None:
            torch.testing.assert_close(g_f, g_p, rtol=1e-10, atol=1e-12)


def test_one_process_needs_no_process_group() -> None:
    """Outside torchrun the search gets the do-nothing hooks, and they are the identity."""
    assert type(data_parallel()) is OneProcess
    assert isinstance(ProcessGroup(), OneProcess)
    hooks = OneProcess()
    part = hooks.shard(11)
    assert (part.start, part.stop, part.nll_weight, hooks.world) == (0, 11, 1.0, 1)
    t = [torch.ones(2)]
    assert hooks.average(t)[0] is t[0]
    assert hooks.average_gradients([], [torch.tensor(2.5)]) == [2.5]
