"""Decision sequences ↔ genotypes, checked on hand-written cells."""

from __future__ import annotations

import numpy as np
import pytest

from mdlnas.config import SpaceConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.genotype import Edge
from mdlnas.strategies import ArchitectureCoding

# ops: 0 linear, 1 linear_bottleneck, 2 identity, 3 zero; edges (0,1) (0,2) (1,2)


def test_decode_keeps_the_chosen_ops_and_drops_zero(coding: ArchitectureCoding) -> None:
    genotype = coding.decode((0, 3, 2))
    assert genotype.normal.edges == (Edge(0, 1, "linear"), Edge(1, 2, "identity"))
    assert genotype.reduce is None
    assert coding.encode(genotype) == (0, 3, 2)


def test_a_dead_node_is_pruned_and_the_output_kept_connected(
    coding: ArchitectureCoding,
) -> None:
    # node 1 has an input but no way to the output: its edge goes
    assert coding.decode((1, 2, 3)).normal.edges == (Edge(0, 2, "identity"),)
    # nothing reaches the output: in the mlp space, with its direct path, the linear model
    linear = coding.decode((3, 3, 3))
    assert linear.normal.edges == () and not linear.deep
    assert coding.encode(linear) == (3, 3, 3)
    # in a space without one, the edge 0 -> output with the first op that is not zero
    conv = SpaceConfig("c", 1, ("conv_3", "identity", "zero"), n_nodes=2, channels=4)
    assert ArchitectureCoding(conv, "classification", (1, 8), 2).decode(
        (2, 2, 2)).normal.edges == (Edge(0, 2, "conv_3"),)


def test_reduction_spaces_have_a_second_block_of_decisions() -> None:
    ops = ("zero", "identity", "conv_3")
    space = SpaceConfig("c", 1, ops, n_nodes=1, layers=2, channels=4, reduction_layers=(1,))
    coding = ArchitectureCoding(space, "classification", (1, 8), 2)
    assert coding.n_decisions == 2 and coding.cell_types == ("normal", "reduce")
    genotype = coding.decode((1, 2))
    assert genotype.normal.edges == (Edge(0, 1, "identity"),)
    assert genotype.reduce is not None and genotype.reduce.edges == (Edge(0, 1, "conv_3"),)
    assert coding.edge_of(1) == ("reduce", 0, 1)


def test_random_candidates_are_valid_and_cover_every_op(coding: ArchitectureCoding) -> None:
    rng = np.random.default_rng(0)
    draws = [coding.random(rng) for _ in range(50)]
    assert {c for d in draws for c in d} == set(range(coding.n_ops))
    for d in draws:
        coding.decode(d)  # validated genotypes, no error


@pytest.mark.parametrize("bad", [(0, 1), (0, 1, 4), (0, -1, 2)])
def test_malformed_sequences_are_refused(coding: ArchitectureCoding, bad: tuple[int, ...]) -> None:
    with pytest.raises(GenotypeError):
        coding.decode(bad)
