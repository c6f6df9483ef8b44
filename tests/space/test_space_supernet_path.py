"""One discrete path of the supernet (weight sharing) against the standalone network of the
same genotype carrying the same weights."""

from __future__ import annotations

import pytest
import torch

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.space.network import DerivedNetwork
from mdlnas.space.supernet import Supernet

OPS_1D = ("zero", "identity", "conv_3", "max_pool_3", "sep_conv_3")
SPACE = SpaceConfig("c", 1, OPS_1D, n_nodes=3, layers=2, channels=4, reduction_layers=(1,))
NORMAL = CellGenotype(3, (Edge(0, 1, "conv_3"), Edge(0, 2, "identity"), Edge(1, 2, "sep_conv_3"),
                          Edge(2, 3, "max_pool_3")))
REDUCE = CellGenotype(3, (Edge(0, 1, "sep_conv_3"), Edge(0, 3, "conv_3"), Edge(1, 3, "identity")))
GENOTYPE = Genotype(SPACE, "classification", (2, 12), 3, NORMAL, REDUCE)


def _derived_with_supernet_weights(net: Supernet, genotype: Genotype) -> DerivedNetwork:
    """The genotype's standalone network, its weights copied from the supernet's path."""
    derived = DerivedNetwork(genotype, net.bayes)
    source = net.state_dict()
    target = {}
    for key in derived.state_dict():
        if not key.startswith("cells."):
            target[key] = source[key]  # stem, transitions, head: the same names
            continue
        _, layer, _, k, rest = key.split(".", 4)  # cells.{layer}.ops.{k}.{rest}
        cell = genotype.cells()["reduce" if net.plan[int(layer)][1] else "normal"]
        edge = sorted(cell.edges, key=lambda e: (e.dst, e.src))[int(k)]
        position = cell_edges(cell.n_nodes).index((edge.src, edge.dst))
        ops = genotype.space.ops
        active = [i for i, op in enumerate(ops) if op != "zero"]
        op_slot = active.index(ops.index(edge.op))
        target[key] = source[f"cells.{layer}.mixed.{position}.ops.{op_slot}.{rest}"]
    derived.load_state_dict(target)
    return derived


@pytest.mark.parametrize("variational", [False, True])
def test_path_is_the_derived_network_on_shared_weights(variational: bool) -> None:
    torch.manual_seed(0)
    net = Supernet(SPACE, (2, 12), 3, "classification", BayesConfig(variational, init_sigma=0.1))
    derived = _derived_with_supernet_weights(net, GENOTYPE)
    net.eval(), derived.eval()
    x = torch.randn(5, 2, 12)
    torch.testing.assert_close(net.forward_path(x, GENOTYPE), derived(x))
    torch.testing.assert_close(net.path_description_length(GENOTYPE),
                               derived.description_length())
    if variational:  # the path charges its ops in full: more than the frame alone
        with torch.no_grad():
            assert float(net.path_description_length(GENOTYPE)) > float(net.fixed_kl())


MLP = SpaceConfig("m", 0, ("zero", "identity", "linear"), n_nodes=2, channels=4)


@pytest.mark.parametrize("edges", [(Edge(0, 1, "linear"), Edge(1, 2, "identity")), ()],
                         ids=["cells", "linear-model"])
def test_path_of_a_space_with_a_direct_path(edges: tuple[Edge, ...]) -> None:
    torch.manual_seed(0)
    genotype = Genotype(MLP, "classification", (5,), 3, CellGenotype(2, edges))
    net = Supernet(MLP, (5,), 3, "classification", BayesConfig(init_sigma=0.1))
    derived = _derived_with_supernet_weights(net, genotype)
    net.eval(), derived.eval()
    x = torch.randn(6, 5)
    torch.testing.assert_close(net.forward_path(x, genotype), derived(x))
    torch.testing.assert_close(net.path_description_length(genotype),
                               derived.description_length())
    assert net.direct is not None
    with torch.no_grad():
        linear = net.direct(x)
        if not edges:  # the linear model: the direct path alone, which is all it describes
            torch.testing.assert_close(derived(x), linear)
            torch.testing.assert_close(net.path_description_length(genotype), net.direct_kl())
        else:  # the cells add to it
            assert not torch.allclose(derived(x), linear)


def test_ops_off_the_path_get_no_gradient() -> None:
    torch.manual_seed(0)
    net = Supernet(SPACE, (2, 12), 3, "classification", BayesConfig(variational=False))
    net.train()
    net.forward_path(torch.randn(4, 2, 12), GENOTYPE).sum().backward()
    path = net.path(GENOTYPE)
    for layer, (_, reduction) in enumerate(net.plan):
        choices = path["reduce" if reduction else "normal"]
        for position, choice in enumerate(choices):
            mixed = net.cells[layer].mixed[position]
            for i, op in zip(mixed.active, mixed.ops, strict=True):
                grads = [p.grad for p in op.parameters()]
                if i == choice:
                    assert all(g is not None for g in grads)
                else:
                    assert all(g is None for g in grads)
    assert all(a.grad is None for a in net.arch_parameters())


def test_path_lists_the_op_index_of_every_edge_and_none_for_absent_ones() -> None:
    net = Supernet(SPACE, (2, 12), 3, "classification", BayesConfig(variational=False))
    # edges in order (0,1) (0,2) (1,2) (0,3) (1,3) (2,3); ops index into OPS_1D
    assert net.path(GENOTYPE) == {"normal": (2, 1, 4, None, None, 3),
                                  "reduce": (4, None, None, 2, 1, None)}


def test_a_genotype_of_another_space_is_refused() -> None:
    net = Supernet(SPACE, (2, 12), 3, "classification", BayesConfig(variational=False))
    other = SpaceConfig("c", 1, OPS_1D, n_nodes=3, layers=2, channels=8, reduction_layers=(1,))
    genotype = Genotype(other, "classification", (2, 12), 3, NORMAL, REDUCE)
    with pytest.raises(GenotypeError, match="same space"):
        net.forward_path(torch.randn(2, 2, 12), genotype)
