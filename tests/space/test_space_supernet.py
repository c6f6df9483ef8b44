"""Mixed op, search cell and supernet against hand-written computations of seed eq. 3-4
and of the expected description length ``KL_fixed + Σ_e Σ_o γ_e,o · KL_e,o``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import ConfigError
from mdlnas.search.method import expected_description_length
from mdlnas.space.cell import MixedOp, SearchCell, cell_edges, connection_probability
from mdlnas.space.frame import channel_plan
from mdlnas.space.ops import OpContext
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise, variational_layers

OPS_1D = ("zero", "identity", "conv_3", "max_pool_3", "sep_conv_3")
OPS_0D = ("zero", "identity", "linear", "linear_bottleneck")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _kl_of(module: nn.Module) -> torch.Tensor:
    """KL of a module computed from its layers' own ``kl()`` (0 without layers)."""
    total = torch.zeros(())
    for layer in variational_layers(module):
        total = total + layer.kl()
    return total


def _by_name(mixed: MixedOp) -> dict[str, nn.Module]:
    return {mixed.op_names[i]: op for i, op in zip(mixed.active, mixed.ops, strict=True)}


def _connected_by_enumeration(present: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """P(output reachable from input), summed over all 2^edges subsets of present edges."""
    edges = cell_edges(n_nodes)
    total = torch.zeros((), dtype=present.dtype)
    for subset in range(2 ** len(edges)):
        on = [(subset >> k) & 1 for k in range(len(edges))]
        weight = torch.ones((), dtype=present.dtype)
        for k, bit in enumerate(on):
            weight = weight * (present[k] if bit else 1 - present[k])
        reached = {0}
        for (src, dst), bit in zip(edges, on, strict=True):  # ordered by dst: one sweep
            if bit and src in reached:
                reached.add(dst)
        if n_nodes in reached:
            total = total + weight
    return total


@pytest.mark.parametrize("n_nodes", [1, 2, 3, 4])
def test_connection_probability_against_enumeration(n_nodes: int) -> None:
    n_edges = n_nodes * (n_nodes + 1) // 2
    present = torch.rand(n_edges, generator=_seeded(n_nodes), dtype=torch.float64)
    present.requires_grad_(True)
    got = connection_probability(present, n_nodes)
    expected = _connected_by_enumeration(present, n_nodes)
    torch.testing.assert_close(got, expected)
    (g1,) = torch.autograd.grad(got, present)
    (g2,) = torch.autograd.grad(expected, present)
    torch.testing.assert_close(g1, g2)
    # certain edges: a path 0 -> ... -> output of present edges connects, none does not
    assert float(connection_probability(torch.zeros(n_edges), n_nodes)) == 0.0
    assert float(connection_probability(torch.ones(n_edges), n_nodes)) == 1.0


def test_cell_edges_order() -> None:
    assert cell_edges(1) == [(0, 1)]
    assert cell_edges(3) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert len(cell_edges(4)) == SpaceConfig("s", 0, ("linear",), n_nodes=4).n_edges


# -- mixed op ----------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 2])
def test_mixed_op_is_the_gamma_weighted_sum_of_its_ops(stride: int) -> None:
    torch.manual_seed(0)
    mixed = MixedOp(OPS_1D, OpContext(1, 4, stride, BayesConfig())).eval()
    assert [mixed.op_names[i] for i in mixed.active] == [n for n in OPS_1D if n != "zero"]
    x = torch.randn(3, 4, 9, generator=_seeded(1))
    gamma = torch.softmax(torch.randn(len(OPS_1D), generator=_seeded(2)), dim=0)
    ops = _by_name(mixed)
    with torch.no_grad():
        expected = sum(gamma[OPS_1D.index(name)] * op(x) for name, op in ops.items())
        got = mixed(x, gamma)
    assert got.shape == (3, 4, 9 if stride == 1 else 5)
    torch.testing.assert_close(got, expected)
    # The weight of `zero` only matters through the softmax: the op itself adds nothing.
    bumped = gamma.clone()
    bumped[OPS_1D.index("zero")] = 5.0
    with torch.no_grad():
        torch.testing.assert_close(mixed(x, bumped), expected)


def test_mixed_op_in_training_replays_common_noise() -> None:
    from mdlnas.space.variational import common_noise

    torch.manual_seed(0)
    mixed = MixedOp(OPS_0D, OpContext(0, 4, 1, BayesConfig(init_sigma=0.1))).train()
    x = torch.randn(6, 4, generator=_seeded(3))
    gamma = torch.tensor([0.1, 0.2, 0.3, 0.4])
    ops = _by_name(mixed)
    with torch.no_grad():
        with common_noise(7):
            got = mixed(x, gamma)
        with common_noise(7):  # the same ops in the same order draw the same noise
            expected = sum(gamma[OPS_0D.index(n)] * ops[n](x) for n in OPS_0D if n != "zero")
    torch.testing.assert_close(got, expected)


# -- cell ----------------------------------------------------------------------------------
def test_two_node_cell_matches_hand_written_dag() -> None:
    torch.manual_seed(0)
    cell = SearchCell(OPS_0D, n_nodes=2, dim=0, channels=4, bayes=BayesConfig()).eval()
    assert cell.edges == [(0, 1), (0, 2), (1, 2)]
    mixed = list(cell.mixed_ops())
    x = torch.randn(5, 4, generator=_seeded(5))
    gamma = torch.softmax(torch.randn(3, len(OPS_0D), generator=_seeded(6)), dim=-1)

    def edge(k: int, inp: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(())
        for n, op in _by_name(mixed[k]).items():
            out = out + gamma[k, OPS_0D.index(n)] * op(inp)
        return out

    with torch.no_grad():
        x1 = edge(0, x)  # x_1 = ō_01(x_0)
        x2 = edge(1, x) + edge(2, x1)  # x_2 = ō_02(x_0) + ō_12(x_1)
        got = cell(x, gamma)
    torch.testing.assert_close(got, x2)


def test_reduction_cell_strides_only_edges_from_its_input() -> None:
    torch.manual_seed(0)
    cell = SearchCell(OPS_1D, n_nodes=3, dim=1, channels=4, bayes=BayesConfig(), reduction=True)
    for (src, _), mixed in zip(cell.edges, cell.mixed_ops(), strict=True):
        expected_stride = 2 if src == 0 else 1
        pool = _by_name(mixed)["max_pool_3"]
        assert pool.stride == expected_stride  # type: ignore[union-attr]
    gamma = torch.softmax(torch.randn(6, len(OPS_1D), generator=_seeded(7)), dim=-1)
    out = cell(torch.randn(2, 4, 11, generator=_seeded(8)), gamma)
    assert out.shape == (2, 4, 6)


# -- supernet --------------------------------------------------------------------------------
SPACES = {
    "mlp": (SpaceConfig("mlp", 0, OPS_0D, n_nodes=2, layers=2, channels=4), (6,)),
    "conv1d": (
        SpaceConfig("c1", 1, OPS_1D, n_nodes=2, layers=2, channels=4, reduction_layers=(1,)),
        (2, 12),
    ),
    "conv2d": (
        SpaceConfig("c2", 2, ("zero", "identity", "conv_3", "avg_pool_3", "dil_conv_3"),
                    n_nodes=2, layers=3, channels=4, reduction_layers=(1,)),
        (1, 8, 8),
    ),
}


def _supernet(kind: str, bayes: BayesConfig | None = None, task: str = "classification",
              output_dim: int = 3) -> Supernet:
    torch.manual_seed(0)
    space, shape = SPACES[kind]
    return Supernet(space, shape, output_dim, task, bayes or BayesConfig())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_supernet_runs_forward_backward_and_alpha_gets_gradients(kind: str) -> None:
    net = _supernet(kind)
    space, shape = SPACES[kind]
    x = torch.randn(4, *shape, generator=_seeded(10))
    seen: list[tuple[int, ...]] = []
    for cell in net.cells:
        cell.register_forward_hook(lambda _m, _i, o: seen.append(tuple(o.shape)))
    out = net(x)
    assert out.shape == (4, 3)
    loss = nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 0])) + net.description_length()
    loss.backward()
    for alpha in net.arch_parameters():
        assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    assert (net.alpha_reduce is not None) == bool(space.reduction_layers)
    # A reduction cell doubles the width and halves every spatial size.
    width, spatial, expected = space.channels, list(shape[1:]), []
    for layer in range(space.layers):
        if layer in space.reduction_layers:
            width, spatial = 2 * width, [(n + 1) // 2 for n in spatial]
        expected.append((4, width, *spatial))
    assert seen == expected
    assert net.plan == channel_plan(space) == [(e[1], i in space.reduction_layers)
                                               for i, e in enumerate(expected)]


def test_regression_supernet_has_noise_scale_among_weights() -> None:
    net = _supernet("mlp", task="regression", output_dim=1)
    assert net.log_noise is not None
    assert any(p is net.log_noise for p in net.weight_parameters())
    assert net(torch.randn(3, 6)).shape == (3, 1)


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_arch_and_weight_parameters_partition_parameters(kind: str) -> None:
    net = _supernet(kind)
    arch = {id(p) for p in net.arch_parameters()}
    weights = [id(p) for p in net.weight_parameters()]
    everything = {id(p) for p in net.parameters()}
    assert len(weights) == len(set(weights))
    assert arch.isdisjoint(weights)
    assert arch | set(weights) == everything
    assert id(net.alpha_normal) in arch and id(net.alpha_normal) not in weights
    named = dict(net.named_parameters())
    assert {id(named[n]) for n in net.arch_names()} == arch
    gammas = net.mixing_weights()
    assert set(gammas) == ({"normal", "reduce"} if net.alpha_reduce is not None else {"normal"})
    for gamma in gammas.values():
        torch.testing.assert_close(gamma.sum(-1), torch.ones(gamma.shape[0]))


@pytest.mark.parametrize("kind", sorted(SPACES))
@pytest.mark.parametrize(("prior_std", "prior_mean"),
                         [(1.0, "zero"), (None, "zero"), (None, "empirical")])
def test_description_length_is_fixed_kl_plus_gamma_weighted_op_kl(
    kind: str, prior_std: float | None, prior_mean: str
) -> None:
    bayes = BayesConfig(prior_std=prior_std, init_sigma=0.05, prior_mean=prior_mean)  # type: ignore[arg-type]
    net = _supernet(kind, bayes)
    with torch.no_grad():  # means away from 0, so a prior mean fixed at 0 would show
        for layer in variational_layers(net):
            layer.weight.mu.add_(0.3)
    space, _ = SPACES[kind]
    with torch.no_grad():  # make α far from uniform so a wrong γ would show
        net.alpha_normal.copy_(torch.randn(net.alpha_normal.shape, generator=_seeded(11)))
        if net.alpha_reduce is not None:
            net.alpha_reduce.copy_(torch.randn(net.alpha_reduce.shape, generator=_seeded(12)))
    fixed = _kl_of(net.stem) + _kl_of(net.transitions) + _kl_of(net.head_linear)
    direct = _kl_of(net.direct) if net.direct is not None else torch.zeros(())
    # the stem and head are paid for in proportion to the chance that the cell is
    # connected, in a space with a direct path (mlp); always otherwise
    deep = (_connected_by_enumeration(1 - torch.softmax(net.alpha_normal, -1)[
        :, space.ops.index("zero")], space.n_nodes) if space.direct_path else 1.0)
    assert (net.direct is not None) == space.direct_path == (kind == "mlp")
    expected = direct + deep * fixed
    for cell, (_, reduction) in zip(net.cells, net.plan, strict=True):
        alpha = net.alpha_reduce if reduction else net.alpha_normal
        assert alpha is not None
        gamma = torch.softmax(alpha, dim=-1)
        for k, mixed in enumerate(cell.mixed_ops()):  # type: ignore[operator]
            for name, op in _by_name(mixed).items():
                expected = expected + gamma[k, space.ops.index(name)] * _kl_of(op)
    dl = net.description_length()
    torch.testing.assert_close(dl, expected)
    torch.testing.assert_close(expected_description_length(net), expected)
    torch.testing.assert_close(net.fixed_kl(), fixed)
    # Every KL term is counted once: all layers of the net = fixed + every op at γ = 1.
    all_ops = sum(_kl_of(op) for cell in net.cells
                  for mixed in cell.mixed_ops() for op in mixed.ops)  # type: ignore[operator]
    torch.testing.assert_close(_kl_of(net), direct + fixed + all_ops)


def test_description_length_follows_a_confident_alpha() -> None:
    net = _supernet("mlp")
    space, _ = SPACES["mlp"]
    pick = space.ops.index("linear_bottleneck")
    with torch.no_grad():
        net.alpha_normal.zero_()
        net.alpha_normal[:, pick] = 50.0  # γ is one-hot up to e^-50
    expected = net.direct_kl() + net.fixed_kl()
    for cell in net.cells:
        for mixed in cell.mixed_ops():  # type: ignore[operator]
            expected = expected + _kl_of(_by_name(mixed)["linear_bottleneck"])
    torch.testing.assert_close(net.description_length(), expected)
    with torch.no_grad():
        net.alpha_normal.zero_()
        net.alpha_normal[:, space.ops.index("zero")] = 50.0
    # no edge: the linear model of the direct path, which is all there is to describe
    torch.testing.assert_close(net.description_length(), net.direct_kl())
    assert float(net.direct_kl().detach()) > 0


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_deterministic_supernet_has_zero_description_length(kind: str) -> None:
    net = _supernet(kind, BayesConfig(variational=False))
    assert not any("rho" in n for n, _ in net.named_parameters())
    dl = net.description_length()
    assert dl.item() == 0.0
    net.train()
    x = torch.randn(2, *SPACES[kind][1], generator=_seeded(13))
    net(x).sum().backward()
    assert net.alpha_normal.grad is not None


@pytest.mark.parametrize(
    ("kind", "bad_shape"),
    [("mlp", (2, 6)), ("conv1d", (12,)), ("conv1d", (1, 8, 8)), ("conv2d", (2, 12))],
)
def test_input_shape_must_fit_the_space(kind: str, bad_shape: tuple[int, ...]) -> None:
    space, _ = SPACES[kind]
    with pytest.raises(ConfigError, match="pick a space that fits the data"):
        Supernet(space, bad_shape, 3, "classification", BayesConfig())


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_description_length_per_weight_is_each_ops_kl_over_its_weights(kind: str) -> None:
    net = _supernet(kind, BayesConfig(prior_std=None, init_sigma=0.05))
    sums: dict[str, list[float]] = {}
    frame = [net.stem, net.transitions, net.head_linear]
    for module in frame:
        for layer in variational_layers(module):
            for p in (layer.weight, layer.bias):
                if p is not None:
                    entry = sums.setdefault("frame", [0.0, 0.0])
                    entry[0] += float(p.kl().detach())
                    entry[1] += p.mu.numel()
    for layer in variational_layers(net.direct) if net.direct is not None else []:
        for p in (layer.weight, layer.bias):
            if p is not None:
                entry = sums.setdefault("direct", [0.0, 0.0])
                entry[0] += float(p.kl().detach())
                entry[1] += p.mu.numel()
    for cell, (_, reduction) in zip(net.cells, net.plan, strict=True):
        for mixed in cell.mixed_ops():  # type: ignore[operator]
            for name, op in _by_name(mixed).items():
                for layer in variational_layers(op):
                    for p in (layer.weight, layer.bias):
                        if p is not None:
                            key = f"{'reduce' if reduction else 'normal'}:{name}"
                            entry = sums.setdefault(key, [0.0, 0.0])
                            entry[0] += float(p.kl().detach())
                            entry[1] += p.mu.numel()
    expected = {k: kl / n for k, (kl, n) in sums.items()}
    got = net.description_length_per_weight()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key
    assert _supernet(kind, BayesConfig(variational=False)).description_length_per_weight() == {}


def test_frozen_statistics_leave_batch_norm_buffers_alone() -> None:
    net = _supernet("conv1d")
    net.train()
    x = torch.randn(8, 2, 12, generator=_seeded(3))
    before = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    assert before
    with net.frozen_statistics(), common_noise(5):
        out = net(x)
    after = net.state_dict()
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    # inside, BatchNorm still normalised by the batch: the same output as a training pass
    with common_noise(5):
        torch.testing.assert_close(out, net(x))
    # and a training pass outside does update them
    assert any(not torch.equal(net.state_dict()[k], v) for k, v in before.items())
