"""Property: whatever JSON the genotype parser is given, it returns a valid genotype or
raises GenotypeError, never a raw error from json, int() or a dict lookup."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlnas.config import SpaceConfig
from mdlnas.errors import GenotypeError
from mdlnas.space.genotype import SCHEMA, VERSION, CellGenotype, Edge, Genotype

SETTINGS = settings(max_examples=100, deadline=None, database=None)

# Words the parser looks for, so that random objects often get past the first checks.
WORDS = ["schema", "version", "space", "cells", "normal", "reduce", "edges", "n_nodes",
         "task", "input_shape", "output_dim", "ops", "dim", "layers", "channels",
         "reduction_layers", "channel_growth", "name", SCHEMA, "classification",
         "regression", "conv_3", "identity", "zero", "linear", "max_pool_3"]

scalars = (
    st.none()
    # values that int() would quietly accept, or choke on
    | st.sampled_from([float("inf"), float("nan"), 1.0, 2.5, True, -1, 10**30, "1"])
    | st.booleans()
    | st.integers(-3, 5)
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)


def _valid() -> dict[str, Any]:
    space = SpaceConfig("sig", 1, ("conv_3", "max_pool_3", "identity", "zero"), n_nodes=2,
                        layers=2, channels=4, reduction_layers=(1,))
    return Genotype(
        space, "classification", (2, 16), 3,
        CellGenotype(2, (Edge(0, 1, "conv_3"), Edge(0, 2, "identity"), Edge(1, 2, "max_pool_3"))),
        CellGenotype(2, (Edge(0, 2, "conv_3"),)),
    ).to_dict()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key / index path inside a JSON value (the root excluded)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    out = []
    for key, child in children:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


PATHS = _paths(_valid())


@st.composite
def mutated_genotypes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid genotype with one to three fields replaced by arbitrary JSON or removed."""
    data = _valid()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]]  # still there after earlier mutations?
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return data


def _parses_or_refuses(parse: Callable[[], Genotype]) -> None:
    try:
        genotype = parse()
    except GenotypeError as exc:
        assert str(exc)  # a message, not an empty error
        return
    # Accepted: then it is a genotype that survives its own round trip.
    assert Genotype.from_json(genotype.to_json()) == genotype


@SETTINGS
@given(json_values)
def test_any_json_value_parses_or_raises_genotype_error(value: Any) -> None:
    _parses_or_refuses(lambda: Genotype.from_dict(value))
    _parses_or_refuses(lambda: Genotype.from_json(json.dumps(value)))


@SETTINGS
@given(st.fixed_dictionaries({"schema": st.just(SCHEMA), "version": st.just(VERSION)},
                             optional={key: json_values for key in WORDS[2:11]}))
def test_objects_with_the_right_schema_parse_or_raise_genotype_error(value: Any) -> None:
    _parses_or_refuses(lambda: Genotype.from_dict(value))


@SETTINGS
@given(mutated_genotypes())
def test_mutated_genotypes_parse_or_raise_genotype_error(data: dict[str, Any]) -> None:
    _parses_or_refuses(lambda: Genotype.from_dict(copy.deepcopy(data)))
    _parses_or_refuses(lambda: Genotype.from_json(json.dumps(data)))


@SETTINGS
@given(st.text(max_size=200) | st.sampled_from(["{", "[", '{"schema":', "NaN", "-Infinity"]))
def test_any_text_parses_or_raises_genotype_error(text: str) -> None:
    _parses_or_refuses(lambda: Genotype.from_json(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "not valid JSON"),  # json recurses per level: RecursionError
        ('{"a": ' + "1" * 5000 + "}", "not valid JSON"),  # an int too long to convert
        (json.dumps({**_valid(), "version": 1.0}), "'version' must be an integer"),
        (json.dumps({**_valid(), "version": float("inf")}), "'version' must be an integer"),
        (json.dumps({**_valid(), "input_shape": "216"}), "'input_shape' must be a list"),
        (json.dumps({**_valid(), "output_dim": True}), "'output_dim' must be an integer"),
    ],
    ids=["deep nesting", "huge integer", "float version", "infinite version",
         "string shape", "boolean output_dim"],
)
def test_pathological_json_is_a_genotype_error(text: str, message: str) -> None:
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_json(text)


def test_unknown_op_among_the_space_candidates_is_refused() -> None:
    data = _valid()
    data["space"]["ops"].append("warp_drive")  # no edge uses it, but the space names it
    with pytest.raises(GenotypeError, match=r"unknown op\(s\) 'warp_drive'; valid ops: .*conv_3"):
        Genotype.from_dict(data)


def test_edge_with_a_float_node_index_is_refused() -> None:
    data = _valid()
    data["cells"]["normal"]["edges"][0] = [0.0, 1, "conv_3"]  # int() would quietly accept it
    with pytest.raises(GenotypeError, match=r"an edge is \[src, dst, op\]"):
        Genotype.from_dict(data)
