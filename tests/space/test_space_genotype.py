"""Genotypes: deriving them from γ (MDL and DARTS rules), validating them, and their exact
JSON round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdlnas.config import BayesConfig, SpaceConfig
from mdlnas.errors import ConfigError, GenotypeError
from mdlnas.search.method import derive_cell, derive_genotype
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import SCHEMA, VERSION, CellGenotype, Edge, Genotype
from mdlnas.space.network import DerivedNetwork
from mdlnas.space.ops import ops_for_dim

OPS = ("zero", "identity", "linear")


def _gamma(n_nodes: int, rows: dict[tuple[int, int], list[float]]) -> np.ndarray:
    """γ with the given rows per edge; unspecified edges are firmly ``zero``."""
    edges = cell_edges(n_nodes)
    gamma = np.tile(np.array([0.8, 0.1, 0.1]), (len(edges), 1))
    for edge, row in rows.items():
        gamma[edges.index(edge)] = row
    return gamma


def _edges(cell: CellGenotype) -> set[tuple[int, int, str]]:
    return {(e.src, e.dst, e.op) for e in cell.edges}


# -- the MDL rule --------------------------------------------------------------------------
def test_mdl_keeps_argmax_and_zero_removes_an_edge() -> None:
    gamma = _gamma(2, {(0, 1): [0.1, 0.2, 0.7], (0, 2): [0.5, 0.3, 0.2],
                       (1, 2): [0.2, 0.6, 0.2]})
    cell = derive_cell(gamma, OPS, 2)
    assert cell.n_nodes == 2
    assert cell.edges == (Edge(0, 1, "linear"), Edge(1, 2, "identity"))


def test_mdl_drops_an_edge_only_when_it_is_more_likely_absent_than_present() -> None:
    # 0->1: zero is the single most probable op (0.4) but the edge is present with
    # probability 0.6, so it stays, with its strongest non-zero op; 0->2 is absent (0.5).
    gamma = _gamma(2, {(0, 1): [0.4, 0.25, 0.35], (0, 2): [0.5, 0.1, 0.4],
                       (1, 2): [0.2, 0.6, 0.2]})
    assert _edges(derive_cell(gamma, OPS, 2)) == {(0, 1, "linear"), (1, 2, "identity")}


def test_mdl_without_zero_wins_keeps_every_edge() -> None:
    gamma = _gamma(2, {(0, 1): [0.1, 0.2, 0.7], (0, 2): [0.0, 0.6, 0.4],
                       (1, 2): [0.2, 0.3, 0.5]})
    assert _edges(derive_cell(gamma, OPS, 2)) == {
        (0, 1, "linear"), (0, 2, "identity"), (1, 2, "linear")}


def test_mdl_feeds_a_starved_node_whose_out_edges_chose_ops() -> None:
    # 0->1 chose zero, but 1->2 and 1->3 chose ops on node 1's (small) signal: node 1 is
    # fed by its strongest non-zero input, 0->1's identity (0.15 against linear's 0.05).
    gamma = _gamma(3, {(0, 1): [0.8, 0.15, 0.05], (0, 2): [0.1, 0.1, 0.8],
                       (1, 2): [0.1, 0.8, 0.1], (1, 3): [0.1, 0.1, 0.8],
                       (2, 3): [0.2, 0.7, 0.1]})
    cell = derive_cell(gamma, OPS, 3)
    assert cell.edges == (Edge(0, 1, "identity"), Edge(0, 2, "linear"), Edge(1, 2, "identity"),
                          Edge(1, 3, "linear"), Edge(2, 3, "identity"))
    assert cell.live_nodes() == [1, 2, 3]


def test_mdl_removes_a_starved_node_whose_out_edges_chose_zero() -> None:
    # Node 1 gets nothing and gives nothing: it is not fed, and the cell runs 0->2->3.
    gamma = _gamma(3, {(0, 2): [0.1, 0.1, 0.8], (2, 3): [0.2, 0.7, 0.1]})
    cell = derive_cell(gamma, OPS, 3)
    assert cell.edges == (Edge(0, 2, "linear"), Edge(2, 3, "identity"))
    assert cell.live_nodes() == [2, 3]


def test_mdl_removes_a_node_without_a_path_to_the_output() -> None:
    # Node 1 is fed but feeds nothing alive (1->2 and 1->3 are zero): a dead end.
    # Node 2 is fed only by node 1, so it is kept because it reaches the output.
    gamma = _gamma(3, {(0, 1): [0.1, 0.1, 0.8], (0, 3): [0.1, 0.8, 0.1],
                       (0, 2): [0.1, 0.1, 0.8]})
    cell = derive_cell(gamma, OPS, 3)
    assert _edges(cell) == {(0, 3, "identity")}  # node 2 has no out-edge: pruned too
    gamma = _gamma(3, {(0, 1): [0.1, 0.1, 0.8], (0, 2): [0.1, 0.1, 0.8],
                       (2, 3): [0.1, 0.8, 0.1]})
    assert _edges(derive_cell(gamma, OPS, 3)) == {(0, 2, "linear"), (2, 3, "identity")}


def test_mdl_keeps_the_output_connected_with_the_strongest_edge_from_a_live_node() -> None:
    # Every edge into the output picks zero. Node 1 is live (0->1 is linear), and its edge
    # into the output has the strongest non-zero op, so that edge (and 0->1) survive.
    gamma = _gamma(2, {(0, 1): [0.1, 0.1, 0.8], (0, 2): [0.7, 0.2, 0.1],
                       (1, 2): [0.6, 0.1, 0.3]})
    assert _edges(derive_cell(gamma, OPS, 2)) == {(0, 1, "linear"), (1, 2, "linear")}
    # If the edge from the input is the stronger one, that one is kept instead.
    gamma = _gamma(2, {(0, 1): [0.1, 0.1, 0.8], (0, 2): [0.5, 0.4, 0.1],
                       (1, 2): [0.6, 0.1, 0.3]})
    assert _edges(derive_cell(gamma, OPS, 2)) == {(0, 2, "identity")}


def test_mdl_fallback_never_uses_a_node_without_inputs() -> None:
    # 1->2 is the strongest non-zero edge into the output, but node 1 has no input.
    gamma = _gamma(2, {(0, 1): [0.9, 0.05, 0.05], (0, 2): [0.8, 0.15, 0.05],
                       (1, 2): [0.5, 0.0, 0.5]})
    assert _edges(derive_cell(gamma, OPS, 2)) == {(0, 2, "identity")}


def test_mdl_single_node_cell_is_never_empty() -> None:
    cell = derive_cell(np.array([[0.9, 0.04, 0.06]]), OPS, 1)
    assert cell.edges == (Edge(0, 1, "linear"),)


# -- the DARTS rule ------------------------------------------------------------------------
def test_darts_keeps_top_k_nonzero_edges_per_node_with_their_best_nonzero_op() -> None:
    edges = cell_edges(3)  # (0,1) (0,2) (1,2) (0,3) (1,3) (2,3)
    gamma = np.array([
        [0.9, 0.06, 0.04],  # 0->1: zero wins, but DARTS keeps the best non-zero (identity)
        [0.1, 0.5, 0.4],  # 0->2: strength 0.5
        [0.1, 0.2, 0.7],  # 1->2: strength 0.7
        [0.5, 0.1, 0.4],  # 0->3: strength 0.4
        [0.0, 0.3, 0.7],  # 1->3: strength 0.7
        [0.2, 0.45, 0.35],  # 2->3: strength 0.45
    ])
    assert len(edges) == len(gamma)
    cell = derive_cell(gamma, OPS, 3, rule="darts", top_k=2)
    assert cell.edges == (
        Edge(0, 1, "identity"),
        Edge(0, 2, "identity"), Edge(1, 2, "linear"),
        Edge(1, 3, "linear"), Edge(2, 3, "identity"),
    )
    top1 = derive_cell(gamma, OPS, 3, rule="darts", top_k=1)
    # top-1 picks 0->1, 1->2, 1->3; node 2 then has no path to the output and is removed
    assert top1.edges == (Edge(0, 1, "identity"), Edge(1, 3, "linear"))
    everything = derive_cell(gamma, OPS, 3, rule="darts", top_k=5)
    assert len(everything.edges) == len(edges)


def test_derive_cell_rejects_bad_input() -> None:
    with pytest.raises(GenotypeError, match="shape"):
        derive_cell(np.ones((2, 3)), OPS, 2)
    with pytest.raises(ConfigError, match="derive rule"):
        derive_cell(np.ones((3, 3)), OPS, 2, rule="best")  # type: ignore[arg-type]


# -- JSON ----------------------------------------------------------------------------------
def _space_1d() -> SpaceConfig:
    return SpaceConfig("sig", 1, ("zero", "identity", "conv_3", "max_pool_3"), n_nodes=2,
                       layers=2, channels=4, reduction_layers=(1,))


def _genotype() -> Genotype:
    return Genotype(
        space=_space_1d(),
        task="classification",
        input_shape=(2, 16),
        output_dim=3,
        normal=CellGenotype(2, (Edge(0, 1, "conv_3"), Edge(0, 2, "identity"),
                                Edge(1, 2, "max_pool_3"))),
        reduce=CellGenotype(2, (Edge(0, 2, "conv_3"),)),
    )


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    g = _genotype()
    text = g.to_json()
    again = Genotype.from_json(text)
    assert again == g
    assert again.to_dict() == g.to_dict()
    assert again.to_json() == text
    assert Genotype.from_dict(json.loads(text)) == g
    path = tmp_path / "genotype.json"
    g.save(path)
    assert Genotype.load(path) == g
    assert Genotype.load(str(path)) == g
    assert [p.name for p in tmp_path.iterdir()] == ["genotype.json"]  # no temp file left
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["version"] == VERSION
    assert data["cells"]["normal"]["edges"][0] == [0, 1, "conv_3"]


def test_json_round_trip_without_reduce_cell() -> None:
    g = Genotype(SpaceConfig("mlp", 0, OPS, n_nodes=1), "regression", (5,), 1,
                 CellGenotype(1, (Edge(0, 1, "linear"),)))
    assert g.to_dict()["cells"]["reduce"] is None
    assert Genotype.from_json(g.to_json()) == g


def test_genotype_is_immutable() -> None:
    g = _genotype()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.output_dim = 4  # type: ignore[misc]
    assert isinstance(g.normal.edges, tuple)


def test_describe_lists_every_edge() -> None:
    text = _genotype().describe()
    assert "sig" in text and "reduce cell" in text
    assert "1 -> 2: max_pool_3" in text and "0 -> 2: conv_3" in text


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(_genotype().to_dict())
    change(data)
    return data


def _normal_edges(edges: list[list[Any]]) -> Any:
    return lambda d: d["cells"]["normal"].__setitem__("edges", edges)


INVALID = {
    "wrong schema": (lambda d: d.__setitem__("schema", "other"), "expected schema"),
    "no schema": (lambda d: d.pop("schema"), "expected schema"),
    "wrong version": (lambda d: d.__setitem__("version", VERSION + 1), "version"),
    "unknown op": (_normal_edges([[0, 1, "conv_9"], [1, 2, "conv_3"]]), "unknown op 'conv_9'"),
    "op for another dim": (_normal_edges([[0, 2, "linear"]]), "does not apply"),
    "op not a candidate": (_normal_edges([[0, 2, "sep_conv_5"]]), "not among the space"),
    "zero edge": (_normal_edges([[0, 2, "zero"]]), "omit it"),
    "backward edge": (_normal_edges([[0, 1, "conv_3"], [2, 1, "conv_3"], [0, 2, "conv_3"]]),
                      "does not go forward"),
    "self loop": (_normal_edges([[0, 2, "conv_3"], [1, 1, "conv_3"]]), "does not go forward"),
    "past the output": (_normal_edges([[0, 2, "conv_3"], [2, 3, "conv_3"]]), "past the output"),
    "disconnected output": (_normal_edges([[0, 1, "conv_3"]]), "disconnected"),
    "no edges": (_normal_edges([]), "disconnected"),
    "source without inputs": (_normal_edges([[1, 2, "conv_3"], [0, 2, "identity"]]),
                              "has no input"),
    "duplicate edge": (_normal_edges([[0, 2, "conv_3"], [0, 2, "identity"]]), "twice"),
    "reduce missing": (lambda d: d["cells"].__setitem__("reduce", None), "no 'reduce' cell"),
    "reduce unexpected": (lambda d: d["space"].__setitem__("reduction_layers", []),
                          "no reduction layers"),
    "node count mismatch": (lambda d: d["cells"]["normal"].__setitem__("n_nodes", 3),
                            "3 nodes"),
    "missing field": (lambda d: d.pop("task"), "field 'task' is missing"),
    "bad task": (lambda d: d.__setitem__("task", "ranking"), "task"),
    "bad output_dim": (lambda d: d.__setitem__("output_dim", 0), "output_dim"),
    "input shape for another dim": (lambda d: d.__setitem__("input_shape", [16]),
                                    "input_shape"),
    "invalid space": (lambda d: d["space"].__setitem__("dim", 3), "invalid space"),
    "edge not a triple": (_normal_edges([[0, 2]]), r"\[src, dst, op\]"),
    "edge with a boolean": (_normal_edges([[False, 2, "conv_3"]]), r"\[src, dst, op\]"),
    "normal cell missing": (lambda d: d["cells"].__setitem__("normal", None), "'normal' cell"),
    "cells not an object": (lambda d: d.__setitem__("cells", [1]), "'cells' must be an object"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_genotypes_are_rejected(case: str) -> None:
    change, message = INVALID[case]
    data = _mutated(change)
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(data)
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_json(json.dumps(data))


@pytest.mark.parametrize("text", ["[1, 2]", '"genotype"', "3", "null"])
def test_json_that_is_not_an_object_is_rejected(text: str) -> None:
    with pytest.raises(GenotypeError, match="JSON object"):
        Genotype.from_json(text)


@pytest.mark.parametrize("text", ["{not json", "", '{"schema": "mdlnas.genotype",'])
def test_invalid_json_text_is_rejected(text: str) -> None:
    with pytest.raises(GenotypeError, match="not valid JSON"):
        Genotype.from_json(text)


def test_loading_a_missing_or_unreadable_file_is_a_genotype_error(tmp_path: Path) -> None:
    with pytest.raises(GenotypeError, match="no genotype file"):
        Genotype.load(tmp_path / "missing.json")
    with pytest.raises(GenotypeError, match="no genotype file"):
        Genotype.load(tmp_path)  # a directory is not a genotype file
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GenotypeError):
        Genotype.load(binary)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(GenotypeError, match="disconnected"):
        Genotype(SpaceConfig("mlp", 0, OPS, n_nodes=2), "regression", (5,), 1,
                 CellGenotype(2, (Edge(0, 1, "linear"),)))


# -- property: whatever γ says, the derived genotype is valid and runs -----------------------
@st.composite
def _derivations(draw: st.DrawFn) -> tuple[SpaceConfig, dict[str, np.ndarray], str, int]:
    dim = draw(st.sampled_from([0, 1]))
    candidates = [op for op in ops_for_dim(dim) if op != "zero"]
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4, unique=True))
    ops = (["zero"] if draw(st.booleans()) else []) + chosen
    ops = draw(st.permutations(ops))
    n_nodes = draw(st.integers(1, 4))
    reduction = (1,) if dim == 1 and draw(st.booleans()) else ()
    space = SpaceConfig("prop", dim, tuple(ops), n_nodes=n_nodes, layers=2, channels=4,
                        reduction_layers=reduction)
    shape = (space.n_edges, len(ops))
    # Weights in [0, 1] with ties and exact zeros allowed: the rules must cope with both.
    weight = st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0)
    gammas = {}
    for kind in ["normal"] + (["reduce"] if reduction else []):
        flat = draw(st.lists(weight, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]))
        gammas[kind] = np.array(flat).reshape(shape)
    return space, gammas, draw(st.sampled_from(["mdl", "darts"])), draw(st.integers(1, 3))


def _reachable(cell: CellGenotype) -> bool:
    """Every edge lies on a path from the input to the output."""
    fed, useful = {0}, {cell.n_nodes}
    for e in sorted(cell.edges, key=lambda e: e.dst):
        if e.src in fed:
            fed.add(e.dst)
    for e in sorted(cell.edges, key=lambda e: -e.src):
        if e.dst in useful:
            useful.add(e.src)
    return all(e.src in fed and e.dst in useful for e in cell.edges)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_derivations())
def test_derived_genotypes_always_validate_and_run(
    case: tuple[SpaceConfig, dict[str, np.ndarray], str, int],
) -> None:
    space, gammas, rule, top_k = case
    input_shape = (3,) if space.dim == 0 else (2, 9)
    g = derive_genotype(gammas, space, "classification", input_shape, 2, rule, top_k)  # type: ignore[arg-type]
    assert Genotype.from_json(g.to_json()) == g
    for kind, cell in g.cells().items():
        gamma, edges = gammas[kind], cell_edges(space.n_nodes)
        if not cell.edges:
            # only the linear model of a space with a direct path, when no chain of edges
            # more likely present than absent (γ_zero < ½) reaches the output
            assert rule == "mdl" and space.direct_path and "zero" in space.ops
            absent = space.ops.index("zero")
            reached = {0}
            for k, (src, dst) in enumerate(edges):  # ordered by dst: one sweep
                if src in reached and gamma[k, absent] < 0.5:
                    reached.add(dst)
            assert space.n_nodes not in reached
            continue
        assert all(e.op != "zero" for e in cell.edges)
        if rule == "mdl":
            assert _reachable(cell)
            # Every kept edge carries its row's strongest non-zero op; an edge more likely
            # absent than present (γ_zero ≥ ½) is kept only to feed a node (a starved one
            # whose out-edges stayed, or the output): at most one such edge into a node.
            absent = space.ops.index("zero") if "zero" in space.ops else None
            for e in cell.edges:
                row = gamma[edges.index((e.src, e.dst))]
                strongest = max(row[i] for i, op in enumerate(space.ops) if op != "zero")
                assert row[space.ops.index(e.op)] == strongest
            added = [e for e in cell.edges
                     if absent is not None and gamma[edges.index((e.src, e.dst)), absent] >= 0.5]
            assert len({e.dst for e in added}) == len(added)
        else:
            # every node that still feeds the output keeps exactly its top-k inputs
            assert _reachable(cell)
            live = {e.dst for e in cell.edges}
            assert space.n_nodes in live
            for dst in live:
                assert sum(e.dst == dst for e in cell.edges) == min(top_k, dst)
    torch.manual_seed(0)
    net = DerivedNetwork(g, BayesConfig())
    out = net(torch.randn(2, *input_shape))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_a_stride_two_stem_halves_the_image_and_round_trips() -> None:
    space = SpaceConfig("conv2d", 2, ("conv_3", "zero"), 1, 1, 4, stem_stride=2)
    genotype = Genotype(space, "classification", (1, 28, 28), 3,
                        CellGenotype(1, (Edge(0, 1, "conv_3"),)))
    network = DerivedNetwork(genotype, BayesConfig(variational=False)).eval()
    assert network.stem(torch.zeros(2, 1, 28, 28)).shape == (2, 4, 14, 14)
    assert network(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    assert Genotype.from_json(genotype.to_json()) == genotype
    # a file written before the setting existed had a stride-1 stem
    old = json.loads(genotype.to_json())
    del old["space"]["stem_stride"]
    assert Genotype.from_dict(old).space.stem_stride == 1


def test_a_vector_space_has_no_stem_stride() -> None:
    with pytest.raises(ConfigError, match="stem stride"):
        SpaceConfig("mlp", 0, ("linear", "zero"), 1, 1, 4, stem_stride=2)
