"""Hierarchical evolution: flattening motifs into cells, and mutation at every level."""

from __future__ import annotations

import numpy as np

from mdlnas.config import SpaceConfig
from mdlnas.space.genotype import Edge
from mdlnas.strategies import ArchitectureCoding
from mdlnas.strategies.hierarchical import (
    HierarchicalGenotype,
    mutate_hierarchy,
    trivial_genotype,
)

OPS = ("linear", "linear_bottleneck", "identity", "zero")
SPACE3 = SpaceConfig("mlp", 0, OPS, n_nodes=3, channels=8)


def test_flatten_reads_each_nodes_motif_from_the_nearest_predecessor_back() -> None:
    a, b, c, x, y, z = 10, 11, 12, 20, 21, 22  # stand-ins, only positions matter
    genotype = HierarchicalGenotype(motifs=((a, b, c), (x, y, z)), cells=((0, 1, 0),))
    # edges (0,1) (0,2) (1,2) (0,3) (1,3) (2,3); node 1 and 3 use motif 0, node 2 motif 1
    assert genotype.flatten(3) == (a, y, x, c, b, a)


def test_the_trivial_genotype_is_a_chain_of_identities() -> None:
    coding = ArchitectureCoding(SPACE3, "classification", (4,), 3)
    trivial = trivial_genotype(coding, n_motifs=2)
    assert trivial.motifs == ((2, 3, 3), (2, 3, 3)) and trivial.cells == ((0, 0, 0),)
    cell = coding.decode(trivial.flatten(3)).normal
    assert cell.edges == (Edge(0, 1, "identity"), Edge(1, 2, "identity"), Edge(2, 3, "identity"))


def test_a_mutation_changes_one_motif_entry_or_one_nodes_motif() -> None:
    coding = ArchitectureCoding(SPACE3, "classification", (4,), 3)
    rng = np.random.default_rng(0)
    parent = trivial_genotype(coding, n_motifs=3)
    levels = set()
    for _ in range(100):
        child = mutate_hierarchy(parent, coding.n_ops, rng)
        motif_changes = sum(p != c for pm, cm in zip(parent.motifs, child.motifs, strict=True)
                            for p, c in zip(pm, cm, strict=True))
        cell_changes = sum(p != c for pc, cc in zip(parent.cells, child.cells, strict=True)
                           for p, c in zip(pc, cc, strict=True))
        assert motif_changes + cell_changes == 1
        levels.add(2 if motif_changes else 3)
        assert all(0 <= op < coding.n_ops for m in child.motifs for op in m)
        assert all(0 <= k < 3 for cell in child.cells for k in cell)
    assert levels == {2, 3}


def test_one_motif_leaves_only_level_two_to_mutate() -> None:
    coding = ArchitectureCoding(SPACE3, "classification", (4,), 3)
    rng = np.random.default_rng(0)
    parent = trivial_genotype(coding, n_motifs=1)
    for _ in range(20):
        assert mutate_hierarchy(parent, coding.n_ops, rng).cells == parent.cells
