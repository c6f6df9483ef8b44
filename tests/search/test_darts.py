"""The bilevel search loop on a small synthetic problem it can solve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.errors import SearchError
from mdlnas.search.darts import BilevelSearch, search
from mdlnas.search.method import (
    ChangeMonitor,
    architecture_step,
    flatten,
    relative_change,
    settled,
    weight_step,
)
from mdlnas.space.genotype import Genotype

SPACE = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 16)


def blobs(n: int = 300, seed: int = 0) -> DataBundle:
    """Three Gaussian blobs in 4-D: learnable well above chance (1/3) in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 2, (3, 4))
    x = (centers[y] + rng.normal(0, 1, (n, 4))).astype(np.float32)
    parts = [slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)]
    train, val, test = (Split(x[p], y[p].astype(np.int64)) for p in parts)
    return DataBundle("blobs", "classification", train, val, test, (4,), 3)


def config(**kw: object) -> SearchConfig:
    # no calibration unless a test asks for it: most tests here watch α from the start
    base: dict[str, object] = {"max_epochs": 4, "batch_size": 32, "device": "cpu",
                               "calibration_epochs": 0}
    base.update(kw)
    return SearchConfig(**base)  # type: ignore[arg-type]


def test_search_learns_and_returns_a_valid_genotype() -> None:
    data = blobs()
    result = search(data, SPACE, config(lam=0.0, bayes=BayesConfig(variational=False)))
    assert isinstance(result.genotype, Genotype)
    assert Genotype.from_json(result.genotype.to_json()) == result.genotype
    assert result.epochs_run == 4 and len(result.history) == 4
    assert result.val_metric > 0.7  # chance is 1/3
    assert result.description_length_bits == 0.0  # deterministic weights cost nothing
    assert result.gammas["normal"].shape == (SPACE.n_edges, len(SPACE.ops))
    np.testing.assert_allclose(result.gammas["normal"].sum(-1), 1.0, rtol=1e-5)


def test_alpha_is_kept_out_of_the_weight_optimiser() -> None:
    state = BilevelSearch(blobs(), SPACE, config())
    arch = {id(a) for a in state.model.arch_parameters()}
    in_w_opt = {id(p) for group in state.w_opt.param_groups for p in group["params"]}
    in_a_opt = {id(p) for group in state.a_opt.param_groups for p in group["params"]}
    assert arch == in_a_opt and not arch & in_w_opt
    assert len(in_w_opt) + len(in_a_opt) == len(list(state.model.parameters()))


def test_description_length_weight_lowers_the_description_length() -> None:
    data = blobs()
    free = search(data, SPACE, config(lam=0.0, max_epochs=6))
    charged = search(data, SPACE, config(lam=1.0, max_epochs=6))
    assert charged.description_length_bits < free.description_length_bits


def test_same_seed_same_result_and_input_untouched() -> None:
    data = blobs()
    x_before = data.train.x.copy()
    first = search(data, SPACE, config(xi=0.01, max_epochs=2))
    second = search(data, SPACE, config(xi=0.01, max_epochs=2))
    assert first.genotype == second.genotype
    np.testing.assert_array_equal(first.gammas["normal"], second.gammas["normal"])
    assert [r.val_loss for r in first.history] == [r.val_loss for r in second.history]
    np.testing.assert_array_equal(data.train.x, x_before)


def test_stopping_rule_converges_when_changes_are_small() -> None:
    result = search(blobs(), SPACE, config(tol=1e9, patience=2, max_epochs=10))
    assert result.converged and result.epochs_run == 2
    result = search(blobs(), SPACE, config(tol=0.0, max_epochs=3))
    assert not result.converged and result.epochs_run == 3


def test_change_monitor_needs_consecutive_calm_epochs() -> None:
    monitor = ChangeMonitor(tol=0.1, patience=2)
    assert not monitor.update(0.05, 0.05)
    assert not monitor.update(0.05, 0.5)  # α still moving: the count restarts
    assert not monitor.update(0.05, 0.05)
    assert monitor.update(0.01, 0.01)


def test_divergence_is_reported_with_the_epoch() -> None:
    with pytest.raises(SearchError, match="epoch 1"):
        search(blobs(), SPACE, config(w_lr=1e30, grad_clip=1e30, bayes=BayesConfig(False)))


def test_warmup_freezes_alpha_and_ramps_the_complexity_weight() -> None:
    state = BilevelSearch(blobs(), SPACE, config(lam=2.0, warmup_epochs=2, max_epochs=3))
    alpha_before = state.model.alpha_normal.detach().clone()
    assert state.lam == 0.0
    state.run_epoch()
    assert state.lam == 1.0  # half-way through a two-epoch warm-up
    state.run_epoch()
    assert (state.model.alpha_normal == alpha_before).all()
    assert state.lam == 2.0 and not state.warming_up
    state.run_epoch()
    assert not (state.model.alpha_normal == alpha_before).all()


def test_calibration_freezes_alpha_at_full_lambda_until_prices_settle() -> None:
    bayes = BayesConfig(prior_std=None, sigma_init="relative", init_sigma=0.3, sigma_lr=0.05)
    state = BilevelSearch(blobs(), SPACE, config(lam=1.0, warmup_epochs=1, calibration_epochs=3,
                                                 calibration_tol=1e-9, max_epochs=7,
                                                 bayes=bayes))
    alpha_before = state.model.alpha_normal.detach().clone()
    phases = []
    for _ in range(4):
        phases.append(state.phase)
        lam = state.lam
        state.run_epoch()
        if phases[-1] == "calibration":
            assert lam == 1.0  # the full λ, not a ramp
            assert torch.equal(state.model.alpha_normal, alpha_before)
    # a tolerance nothing meets: calibration runs its whole budget, then α moves
    assert phases == ["warmup", "calibration", "calibration", "calibration"]
    assert [r.phase for r in state.history] == phases
    assert state.phase == "search"
    state.run_epoch()
    assert not torch.equal(state.model.alpha_normal, alpha_before)
    # the price of every op was recorded each epoch
    assert all("normal:linear" in r.dl_per_weight and "frame" in r.dl_per_weight
               for r in state.history)


def test_calibration_ends_once_every_price_has_settled() -> None:
    bayes = BayesConfig(prior_std=None, sigma_init="relative", init_sigma=0.3)
    state = BilevelSearch(blobs(), SPACE, config(calibration_epochs=50, calibration_tol=10.0,
                                                 bayes=bayes))
    state.run_epoch()  # no earlier prices to compare with: not settled yet
    assert state.phase == "calibration"
    state.run_epoch()  # a change within 1000 % counts as settled
    assert state.phase == "search" and state.calibration_epochs_run == 2


def test_calibration_takes_at_most_half_of_a_short_search() -> None:
    cfg = config(calibration_epochs=8, max_epochs=5, warmup_epochs=1, calibration_tol=1e-9)
    state = BilevelSearch(blobs(), SPACE, cfg)
    assert state.calibration_limit == 2
    while not state.finished:
        state.run_epoch()
    assert [r.phase for r in state.history] == [
        "warmup", "calibration", "calibration", "search", "search"]


def test_point_weights_skip_calibration() -> None:
    state = BilevelSearch(blobs(), SPACE, config(lam=0.0, calibration_epochs=5,
                                                 bayes=BayesConfig(False)))
    assert state.phase == "search"


def test_settled_compares_every_entry() -> None:
    assert settled({"a": 1.0, "b": 2.0}, {"a": 1.01, "b": 2.0}, 0.02)
    assert not settled({"a": 1.0, "b": 2.0}, {"a": 1.03, "b": 2.0}, 0.02)
    assert not settled({}, {"a": 1.0}, 0.5)  # nothing to compare with yet
    assert settled({}, {}, 0.5)  # nothing to calibrate


def test_stopping_rule_sees_the_weights_means_not_only_their_widths() -> None:
    state = BilevelSearch(blobs(), SPACE, config())
    means = state.model.weight_means()
    assert means and {id(p) for p in means} == {
        id(p) for n, p in zip(state.model.weight_names(), state.model.weight_parameters(),
                              strict=True) if not n.endswith(".rho")}
    # a 5 % move of every mean is a 5 % change to the rule, whatever the widths' norm
    before = flatten(means)
    with torch.no_grad():
        for p in means:
            p.mul_(1.05)
    assert relative_change(before, flatten(state.model.weight_means())) == pytest.approx(
        0.05, rel=1e-4)
    # the old rule, over μ and ρ together, hardly saw it (ρ's norm dominates)
    everything = state.model.weight_parameters()
    mean_ids = {id(p) for p in means}
    assert relative_change(flatten([p / 1.05 if id(p) in mean_ids else p for p in everything]),
                           flatten(everything)) < 0.02


def test_architecture_step_leaves_batch_norm_statistics_alone() -> None:
    state = BilevelSearch(blobs(), SPACE, config(xi=0.1, hypergradient="fd"))
    train = next(state.train_split.batches(32, np.random.default_rng(0)))
    val = next(state.val_split.batches(32, np.random.default_rng(1)))
    before = {k: v.clone() for k, v in state.model.state_dict().items() if "running" in k}
    assert before
    f = state._objectives(train, val, state.lam)
    architecture_step(state.model, state.a_opt, f.train, f.val, 0.1,
                      state.computation.hypergradient)
    for key, value in before.items():
        assert torch.equal(state.model.state_dict()[key], value), key
    weight_step(state.model, state.w_opt, f.weights, 5.0)  # the weight step is what trains them
    assert any(not torch.equal(state.model.state_dict()[k], v) for k, v in before.items())
