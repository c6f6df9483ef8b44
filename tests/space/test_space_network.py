"""Standalone networks built from a genotype alone, and their weight counts."""

from __future__ import annotations

import pytest
import torch

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.space.network import DerivedCell, DerivedNetwork, count_weights, nonzero_weights
from mdlnas.space.variational import (
    VariationalLinear,
    VariationalParameter,
    variational_layers,
)

GENOTYPES = {
    "mlp": Genotype(
        SpaceConfig("mlp", 0, ("zero", "identity", "linear", "linear_bottleneck"), n_nodes=3,
                    layers=2, channels=4),
        "regression", (5,), 1,
        CellGenotype(3, (Edge(0, 1, "linear"), Edge(0, 2, "identity"),
                         Edge(1, 2, "linear_bottleneck"), Edge(2, 3, "linear"))),
    ),
    "conv1d": Genotype(
        SpaceConfig("sig", 1, ("zero", "identity", "conv_3", "sep_conv_3", "max_pool_3"),
                    n_nodes=2, layers=2, channels=4, reduction_layers=(1,)),
        "classification", (2, 15), 3,
        CellGenotype(2, (Edge(0, 1, "sep_conv_3"), Edge(1, 2, "identity"),
                         Edge(0, 2, "max_pool_3"))),
        CellGenotype(2, (Edge(0, 1, "conv_3"), Edge(1, 2, "conv_3"), Edge(0, 2, "identity"))),
    ),
    "conv2d": Genotype(
        SpaceConfig("img", 2, ("identity", "conv_3", "dil_conv_3", "avg_pool_3"), n_nodes=2,
                    layers=3, channels=4, reduction_layers=(1,)),
        "classification", (1, 7, 7), 4,
        CellGenotype(2, (Edge(0, 1, "dil_conv_3"), Edge(0, 2, "conv_3"),
                         Edge(1, 2, "avg_pool_3"))),
        CellGenotype(2, (Edge(0, 2, "avg_pool_3"),)),
    ),
}


def _input(g: Genotype, batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, *g.input_shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind", sorted(GENOTYPES))
def test_network_from_a_genotype_alone_runs(kind: str) -> None:
    g = Genotype.from_json(GENOTYPES[kind].to_json())  # nothing but the genotype's data
    torch.manual_seed(0)
    net = DerivedNetwork(g)
    out = net(_input(g))
    assert out.shape == (3, g.output_dim) and torch.isfinite(out).all()
    (out.square().mean() + net.description_length() * 1e-3).backward()
    # Every weight is trained (the regression noise scale enters only through the NLL).
    assert all(p.grad is not None for p in net.parameters() if p is not net.log_noise)
    assert (net.log_noise is not None) == (g.task == "regression")
    # Every weight of a derived network is present, so all of it is charged.
    expected = sum(layer.kl() for layer in variational_layers(net))
    torch.testing.assert_close(net.description_length(), expected)
    assert net.description_length() > 0
    assert len(net.cells) == g.space.layers


@pytest.mark.parametrize("kind", sorted(GENOTYPES))
def test_deterministic_network_has_zero_description_length(kind: str) -> None:
    g = GENOTYPES[kind]
    net = DerivedNetwork(g, BayesConfig(variational=False))
    assert net.description_length().item() == 0.0
    net.train()
    a, b = net(_input(g)), net(_input(g))
    torch.testing.assert_close(a, b)  # no noise anywhere


def test_derived_cell_sums_its_incoming_edges() -> None:
    g = GENOTYPES["mlp"]
    torch.manual_seed(0)
    net = DerivedNetwork(g).eval()
    cell = net.cells[0]
    assert isinstance(cell, DerivedCell)
    ops = {(e.src, e.dst): op for e, op in zip(cell.edges, cell.ops, strict=True)}
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x1 = ops[(0, 1)](x)
        x2 = ops[(0, 2)](x) + ops[(1, 2)](x1)
        x3 = ops[(2, 3)](x2)
        torch.testing.assert_close(cell(x), x3)
    torch.testing.assert_close(x, ops[(0, 2)](x))  # identity really is the identity


@pytest.mark.parametrize("kind", sorted(GENOTYPES))
def test_edge_order_in_the_genotype_does_not_matter(kind: str) -> None:
    g = GENOTYPES[kind]

    def shuffled(cell: CellGenotype | None) -> CellGenotype | None:
        if cell is None:
            return None
        order = torch.randperm(len(cell.edges), generator=torch.Generator().manual_seed(2))
        edges = tuple(cell.edges[i] for i in order.tolist())
        if len(edges) > 1 and edges == cell.edges:
            edges = edges[::-1]
        return CellGenotype(cell.n_nodes, edges)

    other = Genotype(g.space, g.task, g.input_shape, g.output_dim, shuffled(g.normal),  # type: ignore[arg-type]
                     shuffled(g.reduce))
    assert other.normal.edges != g.normal.edges
    torch.manual_seed(0)
    net = DerivedNetwork(g).eval()
    torch.manual_seed(1)
    twin = DerivedNetwork(other).eval()
    twin.load_state_dict(net.state_dict())  # same keys: the network orders edges itself
    x = _input(g)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), net(x), rtol=0, atol=0)


def _tiny() -> Genotype:
    return Genotype(SpaceConfig("tiny", 0, ("zero", "linear"), n_nodes=1, channels=4),
                    "classification", (3,), 2, CellGenotype(1, (Edge(0, 1, "linear"),)))


def test_count_weights_counts_means_once() -> None:
    net = DerivedNetwork(_tiny())
    # stem 3->4 (12 + 4 bias), cell linear 4->4 (16 + 4), non-affine norm (0),
    # head 4->2 (8 + 2), direct path 3->2 (6 + 2): 54 means. Each also has a rho, which
    # is not counted.
    assert count_weights(net) == 12 + 4 + 16 + 4 + 8 + 2 + 6 + 2 == 54
    assert sum(p.numel() for p in net.parameters()) == 2 * 54
    deterministic = DerivedNetwork(_tiny(), BayesConfig(variational=False))
    assert count_weights(deterministic) == sum(p.numel() for p in deterministic.parameters()) == 54
    regression = Genotype(_tiny().space, "regression", (3,), 1, _tiny().normal)
    # Head 4->1 (4 + 1), direct path 3->1 (3 + 1) and the learned noise scale (1).
    assert count_weights(DerivedNetwork(regression)) == 12 + 4 + 16 + 4 + 4 + 1 + 3 + 1 + 1


def test_an_empty_cell_is_the_linear_model() -> None:
    g = Genotype(_tiny().space, "classification", (3,), 2, CellGenotype(1, ()))
    assert not g.deep and Genotype.from_json(g.to_json()) == g
    assert "linear model" in g.describe()
    net = DerivedNetwork(g).eval()
    assert count_weights(net) == 3 * 2 + 2  # a logistic regression's weights, nothing else
    assert net.direct is not None
    x = torch.randn(4, 3)
    with torch.no_grad():
        w, b = net.direct.weight.mu, net.direct.bias.mu  # type: ignore[union-attr]
        torch.testing.assert_close(net(x), x @ w.T + b)
    # a space without a direct path has no linear model: its cells are needed
    conv = SpaceConfig("c", 1, ("zero", "conv_3"), n_nodes=1, channels=4)
    with pytest.raises(GenotypeError, match="disconnected"):
        Genotype(conv, "classification", (2, 8), 2, CellGenotype(1, ()))


def test_nonzero_weights_drops_exactly_the_zeroed_weights() -> None:
    net = DerivedNetwork(_tiny())
    params = [m for m in net.modules() if isinstance(m, VariationalParameter)]
    with torch.no_grad():
        for p in params:  # no mean is zero to begin with (biases start at zero)
            p.mu.copy_(torch.rand(p.mu.shape) + 0.5)
    total = count_weights(net)
    assert nonzero_weights(net) == total
    stem, head = net.stem, net.head_linear
    assert isinstance(stem, VariationalLinear) and head.bias is not None
    assert stem.weight.rho is not None
    with torch.no_grad():
        stem.weight.mu[0, :2] = 0.0
        stem.weight.mu[3, 1] = 0.0
        head.bias.mu.zero_()
        stem.weight.rho.zero_()  # σ is not a weight: no effect
    assert nonzero_weights(net) == total - 3 - 2
    assert count_weights(net) == total


def test_channel_growth_sets_the_width_of_reduction_cells_and_round_trips() -> None:
    from mdlnas.space.frame import channel_plan

    for growth, widths in ((1, [8, 8, 8]), (2, [8, 16, 32]), (3, [8, 24, 72])):
        space = SpaceConfig("c", 1, ("conv_3", "zero"), 1, 3, 8, (1, 2), growth)
        assert [w for w, _ in channel_plan(space)] == widths
        cell = CellGenotype(1, (Edge(0, 1, "conv_3"),))
        g = Genotype(space, "classification", (1, 12), 3, cell, cell)
        assert Genotype.from_json(g.to_json()) == g
        net = DerivedNetwork(g)
        assert net(torch.randn(2, 1, 12)).shape == (2, 3)
        assert net.head_linear.weight.mu.shape == (3, widths[-1])
