"""A complexity family in one search: α = h(log λ), and the budget's pick from the family."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mdlnas.config import SearchConfig
from mdlnas.errors import ConfigError
from mdlnas.search.darts import BilevelSearch, lam_at, position_of
from mdlnas.space.description import variational_parameters
from mdlnas.space.presets import make_space
from mdlnas.space.supernet import interpolate
from mdlnas.strategies.family import (
    check_budget,
    choose,
    front_to_retrain,
    smallest_genotype,
    smallest_size,
    trial_rows,
)
from mdlnas.workflow.family import read_front, write_front
from tests.search.test_darts import SPACE, blobs, config


def test_alpha_is_each_knot_at_its_place_and_linear_between() -> None:
    knots = torch.arange(3 * 2 * 4, dtype=torch.float64).reshape(3, 2, 4).requires_grad_()
    torch.testing.assert_close(interpolate(knots, 0.0), knots[0])
    torch.testing.assert_close(interpolate(knots, 0.5), knots[1])
    torch.testing.assert_close(interpolate(knots, 1.0), knots[2])
    # a quarter of the way: halfway between knot 0 (at 0) and knot 1 (at ½)
    alpha = interpolate(knots, 0.25)
    torch.testing.assert_close(alpha, 0.5 * knots[0] + 0.5 * knots[1])
    # a step at one λ moves only the two knots around it, by their shares
    alpha = interpolate(knots, 0.6)  # 0.2 of the way from knot 1 to knot 2
    alpha.sum().backward()
    assert knots.grad is not None
    shares = knots.grad[:, 0, 0].tolist()
    assert shares == pytest.approx([0.0, 0.8, 0.2])
    plain = torch.ones(2, 4)
    assert interpolate(plain, 0.7) is plain  # a single α is not a family


def test_lam_and_position_are_inverse_and_log_uniform() -> None:
    bounds = (0.01, 100.0)
    assert lam_at(0.0, bounds) == 0.01 and lam_at(1.0, bounds) == pytest.approx(100.0)
    assert lam_at(0.5, bounds) == pytest.approx(1.0)  # the geometric mean
    for lam in (0.02, 0.3, 7.0):
        assert lam_at(position_of(lam, bounds), bounds) == pytest.approx(lam)
    assert position_of(1e-5, bounds) == 0.0 and position_of(1e5, bounds) == 1.0
    assert position_of(3.0, (3.0, 3.0)) == 0.0


@pytest.mark.parametrize(("follow", "balance"),
                         [("none", "raw"), ("widths", "raw"), ("weights", "balanced")])
def test_a_family_over_one_point_is_the_single_search_at_that_lambda(
    follow: str, balance: str
) -> None:
    data = blobs()
    # with a warm-up: λ ramps up in its first epoch, the balanced share must stay 1
    single = BilevelSearch(data, SPACE, config(lam=0.3, calibration_epochs=1,
                                               warmup_epochs=1))
    family = BilevelSearch(data, SPACE, config(lam_range="0.3:0.3", lam_knots=3,
                                               calibration_epochs=1, warmup_epochs=1,
                                               family_follow=follow, family_balance=balance))
    assert family.model.alpha_normal.shape == (3, *single.model.alpha_normal.shape)
    for _ in range(4):
        single.run_epoch()
        family.run_epoch()
    # equal up to rounding: Adam steps a (knots, edges, ops) tensor in other vector lanes
    torch.testing.assert_close(family.model.alphas()["normal"], single.model.alpha_normal,
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose([r.val_nll for r in family.history],
                               [r.val_nll for r in single.history], rtol=1e-5)
    assert family.genotype(0.9) == single.genotype()


def test_a_balanced_family_weighs_each_step_by_one_over_one_plus_lambda() -> None:
    data = blobs()
    raw, balanced = (  # a clip that never acts: the weights' gradients are compared too
        BilevelSearch(data, SPACE, config(lam_range="0.01:100", family_balance=balance,
                                          grad_clip=1e9))
        for balance in ("raw", "balanced")
    )
    batch = next(iter(raw.train_split.batches(32, np.random.default_rng(0), 1)))
    val = next(iter(raw.val_split.batches(32, np.random.default_rng(1), 1)))
    raw.step(batch, val)
    balanced.step(batch, val)
    # the same λ was drawn by both (their own streams, the same seed)
    lam = lam_at(float(np.random.default_rng([0, 1]).random()), (0.01, 100.0))
    share = (1 + 1.0) / (1 + lam)  # λ in the middle of 0.01:100 is 1
    assert raw.model.alpha_normal.grad is not None
    assert balanced.model.alpha_normal.grad is not None
    torch.testing.assert_close(balanced.model.alpha_normal.grad,
                               share * raw.model.alpha_normal.grad)
    # the weight step's gradient (after α moved by Adam's first, scale-free step, the two
    # supernets are the same up to rounding)
    for a, b in zip(balanced.model.weight_parameters(), raw.model.weight_parameters(),
                    strict=True):
        if a.grad is not None and b.grad is not None:
            torch.testing.assert_close(a.grad, share * b.grad, rtol=1e-3, atol=1e-7)


def test_alpha_depends_on_lambda_across_a_range() -> None:
    state = BilevelSearch(blobs(), SPACE, config(lam_range="0.01:100", lam_knots=3,
                                                 calibration_epochs=1, max_epochs=5))
    for _ in range(5):
        state.run_epoch()
    low, high = state.gammas(0.0)["normal"], state.gammas(1.0)["normal"]
    assert not np.allclose(low, high)
    # the description length weighs more at λ = 100: the edges lean towards `zero` there
    zero = SPACE.ops.index("zero")
    assert high[:, zero].mean() > low[:, zero].mean()


@pytest.mark.parametrize("follow", ["widths", "weights"])
def test_widths_that_follow_the_family_widen_with_lambda(follow: str) -> None:
    # The KL's pull on σ grows with λ while the data's does not: after a search over a
    # range, σ at its high end is wider than at its low end, weight by weight on average.
    state = BilevelSearch(blobs(), SPACE, config(lam_range="0.01:100", calibration_epochs=1,
                                                 max_epochs=4, family_follow=follow))
    for _ in range(4):
        state.run_epoch()
    params = [p for p in variational_parameters(state.model) if p.rho is not None]

    def log_sigma(position: float) -> float:
        with state.at(position), torch.no_grad():
            return float(torch.cat([p.sigma.log().reshape(-1) for p in params]).mean())

    assert log_sigma(1.0) > log_sigma(0.0) + 0.1
    # and they are read at the middle of the range between steps, as α is
    assert all(p.position == 0.5 for p in params)
    # and the means follow only when asked
    assert all((p.mu_slope is not None) == (follow == "weights") for p in params)
    shared = BilevelSearch(blobs(), SPACE, config(lam_range="0.01:100"))
    assert all(p.rho_slope is None and p.mu_slope is None
               for p in variational_parameters(shared.model))


def test_following_needs_a_range_and_variational_weights() -> None:
    # one knot over a range: α is one, the parameters still follow λ
    state = BilevelSearch(blobs(), SPACE, config(lam_range="0.1:10", lam_knots=1,
                                                 family_follow="widths"))
    assert all(p.rho_slope is not None for p in variational_parameters(state.model))
    point = dataclasses.replace(SearchConfig().bayes, variational=False)
    with pytest.raises(ConfigError, match="needs variational weights"):
        BilevelSearch(blobs(), SPACE, config(lam_range="0.1:10", family_follow="widths",
                                             bayes=point))


@pytest.mark.parametrize("follow", ["none", "weights"])
def test_a_restored_family_is_read_at_the_middle_of_its_range(follow: str) -> None:
    cfg = config(lam_range="0.01:100", lam_knots=3, calibration_epochs=1, max_epochs=3,
                 family_follow=follow)
    state = BilevelSearch(blobs(), SPACE, cfg)
    while not state.finished:
        state.run_epoch()
    restored = BilevelSearch(blobs(), SPACE, cfg)
    restored.load_state_dict(state.state_dict())
    assert restored.result().val_metric == state.result().val_metric
    assert restored.genotype() == state.genotype()


def _rows(*spec: tuple[float, str, int, int, float]) -> list[dict[str, object]]:
    return [{"lam": lam, "genotype": g, "weights": w, "macs": m, "dl_bits": 0.0,
             "val_metric": v, "metric": "accuracy", "chosen": False}
            for lam, g, w, m, v in spec]


ROWS = _rows((0.1, "00.json", 900, 9000, 0.95), (0.3, "01.json", 500, 5000, 0.94),
             (1.0, "02.json", 300, 3000, 0.96), (3.0, "03.json", 200, 2000, 0.90),
             (10.0, "04.json", 100, 1000, 0.80))


def test_the_budget_picks_the_best_on_validation_within_it() -> None:
    cfg = SearchConfig(max_weights=600)
    assert choose(ROWS, cfg, "classification") == 2  # 0.96 at 300 weights
    assert choose(ROWS, SearchConfig(max_weights=250), "classification") == 3
    assert choose(ROWS, SearchConfig(max_macs=1500), "classification") == 4
    assert choose(ROWS, SearchConfig(), "classification") == 2
    for budget in (100, 150, 250, 350, 600, 1000):
        pick = choose(ROWS, SearchConfig(max_weights=budget), "classification")
        assert ROWS[pick]["weights"] <= budget  # never over the budget
    # nothing of the family fits: the caller takes the space's smallest network
    assert choose(ROWS, SearchConfig(max_weights=99), "classification") is None


def test_trials_are_one_per_network_within_the_budget_and_decide_the_pick() -> None:
    rows = _rows((0.1, "00.json", 900, 9000, 0.95), (0.2, "00.json", 900, 9000, 0.97),
                 (0.3, "01.json", 500, 5000, 0.96), (1.0, "02.json", 300, 3000, 0.90),
                 (3.0, "03.json", 100, 1000, 0.80))
    budget = dataclasses.replace(SearchConfig(), max_weights=600)
    # 01, 02 and 03 fit; each is tried (once) at its best row on the supernet's validation
    assert trial_rows(rows, budget, "classification") == [2, 3, 4]
    assert trial_rows(rows, SearchConfig(), "classification") == [1, 2, 3, 4]
    assert choose(rows, budget, "classification") == 2  # by the supernet
    for i, metric in ((2, 0.91), (3, 0.93), (4, 0.5)):
        rows[i]["trial_val_metric"] = metric
    assert choose(rows, budget, "classification") == 3  # by the trials
    rows[3]["trial_val_metric"] = 0.91  # a tie with 01: the smaller network
    assert choose(rows, budget, "classification") == 3
    rows[3]["trial_val_metric"] = 0.90
    assert choose(rows, budget, "classification") == 2


def test_a_budget_judges_a_fitted_network_by_its_fitted_size() -> None:
    rows = [dict(r) for r in ROWS]
    budget = SearchConfig(max_weights=600)
    # 00 (900 weights as searched, the best) narrowed to 580: now within the budget
    rows[0].update(val_metric=0.99, fitted_channels=6, fitted_weights=580, fitted_macs=5800)
    assert choose(rows, budget, "classification") == 0
    rows[0]["fitted_weights"] = 601
    assert choose(rows, budget, "classification") == 2
    rows[0]["fitted_weights"] = 580
    assert choose(rows, SearchConfig(max_macs=6000), "classification") == 0  # its MACs too
    assert choose(rows, SearchConfig(max_macs=5799), "classification") == 2


def test_the_networks_to_retrain_are_the_front_on_validation() -> None:
    # on the front: 100 (0.80), 200 (0.90), 300 (0.96); 500 and 900 are beaten by 300
    assert front_to_retrain(ROWS, 5, "classification") == [0, 1, 2, 3, 4]
    assert front_to_retrain(ROWS, 3, "classification") == [2, 3, 4]
    assert front_to_retrain(ROWS, 2, "classification") == [2, 4]
    assert front_to_retrain(ROWS, 1, "classification") == [2]  # the most accurate
    repeated = ROWS + _rows((30.0, "04.json", 100, 1000, 0.81))
    assert front_to_retrain(repeated, 5, "classification") == [0, 1, 2, 3, 5]  # one per net


def test_the_smallest_network_of_a_space_and_a_budget_below_it() -> None:
    cfg = SearchConfig()
    # the mlp space's smallest network is the linear model: 13 features × 3 classes + 3
    wine = smallest_size(make_space("mlp"), "classification", (13,), 3, cfg)
    assert wine.weights == 13 * 3 + 3 and wine.macs == 13 * 3
    # the conv1d space's is its frame: the stem, the transitions and the head
    conv = smallest_size(make_space("conv1d"), "classification", (1, 40), 10, cfg)
    assert 0 < conv.weights < 300
    # the darts rule keeps two edges per node: parameter-free ops, the same frame
    darts = smallest_size(make_space("conv1d"), "classification", (1, 40), 10,
                          SearchConfig(derive="darts"))
    assert darts.weights == conv.weights
    # a space of parametric ops only: the smallest is the cheapest of them on every edge
    convs = dataclasses.replace(make_space("conv1d"), ops=("conv_5", "conv_3", "zero"))
    smallest = smallest_genotype(convs, "classification", (1, 40), 10, cfg)
    kept = {e.op for cell in smallest.cells().values() for e in cell.edges}
    assert kept == {"conv_3"}  # the output must be fed: by the smaller convolution
    with pytest.raises(ConfigError, match=f"{conv.weights:,} weights"):
        check_budget(SearchConfig(max_weights=conv.weights - 1), conv, "conv1d")
    check_budget(SearchConfig(max_weights=conv.weights), conv, "conv1d")


def test_front_csv_round_trips(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2].update(chosen=True, test_metric=0.955, test_weights=300, retrain_seconds=1.5)
    rows[2].update(fitted_channels=12, fitted_weights=580, fitted_macs=5800)
    write_front(tmp_path, rows)
    back = read_front(tmp_path)
    assert (back[2]["fitted_channels"], back[2]["fitted_weights"]) == (12, 580)
    assert "fitted_weights" not in back[0]  # not fitted: judged by its own size
    assert back[0]["test_metric"] is None and back[0]["metric"] == "accuracy"  # not retrained
    assert [r["genotype"] for r in back] == [r["genotype"] for r in rows]
    assert [r["chosen"] for r in back] == [False, False, True, False, False]
    assert back[2]["test_metric"] == 0.955 and back[2]["test_weights"] == 300
    assert all(back[i]["weights"] == rows[i]["weights"] for i in range(len(rows)))
    assert all(math.isclose(back[i]["lam"], rows[i]["lam"]) for i in range(len(rows)))
