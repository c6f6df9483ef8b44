"""Genotypes: the discrete architecture a search returns, as plain immutable data.

A genotype names, for each cell type, the edges that survive and the op on each, plus
everything needed to build a standalone network (the space's shape, the data's input
shape, output width and task). It round-trips exactly through JSON with a schema name
and version, and is validated whenever it is made.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mdlnas.config import SpaceConfig, Task
from mdlnas.errors import ConfigError, GenotypeError
from mdlnas.space.ops import OPS
from mdlnas.space.presets import reduction_positions

SCHEMA = "mdlnas.genotype"
VERSION = 1
CELL_TYPES = ("normal", "reduce")


@dataclass(frozen=True)
class Edge:
    """``op`` applied to node ``src``, summed into node ``dst`` (``src < dst``)."""

    src: int
    dst: int
    op: str


@dataclass(frozen=True)
class CellGenotype:
    n_nodes: int
    edges: tuple[Edge, ...]

    def live_nodes(self) -> list[int]:
        """Intermediate nodes that have at least one incoming edge."""
        return sorted({e.dst for e in self.edges})


@dataclass(frozen=True)
class Genotype:
    space: SpaceConfig
    task: Task
    input_shape: tuple[int, ...]
    output_dim: int
    normal: CellGenotype
    reduce: CellGenotype | None = None
    version: int = VERSION

    def __post_init__(self) -> None:
        validate(self)

    # -- JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def cell(c: CellGenotype | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {"n_nodes": c.n_nodes, "edges": [[e.src, e.dst, e.op] for e in c.edges]}

        space = asdict(self.space)
        space["ops"] = list(self.space.ops)
        space["reduction_layers"] = list(self.space.reduction_layers)
        return {
            "schema": SCHEMA,
            "version": self.version,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "output_dim": self.output_dim,
            "space": space,
            "cells": {"normal": cell(self.normal), "reduce": cell(self.reduce)},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> None:
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(self.to_json() + "\n")
        tmp.replace(target)  # atomic: a reader never sees half a genotype

    @classmethod
    def from_dict(cls, data: Any) -> Genotype:
        return _parse(data)

    @classmethod
    def from_json(cls, text: str) -> Genotype:
        try:
            data = json.loads(text)
        # ValueError: also integers too long to convert; RecursionError: absurd nesting.
        except (ValueError, RecursionError) as exc:
            raise GenotypeError(f"genotype is not valid JSON: {exc}") from None
        return _parse(data)

    @classmethod
    def load(cls, path: str | Path) -> Genotype:
        p = Path(path)
        if not p.is_file():
            raise GenotypeError(f"no genotype file at {p}; run `mdlnas search` to make one")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GenotypeError(f"cannot read genotype file {p}: {exc}") from None
        try:
            return cls.from_json(text)
        except GenotypeError as exc:  # name the file: the user has to find and fix it
            raise GenotypeError(
                f"{p}: {exc}; repair the file or run `mdlnas search` again"
            ) from None

    @property
    def deep(self) -> bool:
        """Whether the network has its cells; without (an empty cell, only in a space with
        a direct path) it is the linear model of the direct path alone."""
        return bool(self.normal.edges)

    def scaled(self, channels: int | None = None, layers: int | None = None) -> Genotype:
        """The same cells in a frame of another width or depth (proxy search: search
        narrow and shallow, retrain wide and deep); ``None`` keeps the search's. A new depth
        places the reduction cells as the presets do (a third and two thirds of it)."""
        if channels is None and layers is None:
            return self
        space = self.space
        if channels is not None:
            space = replace(space, channels=channels)
        if layers is not None:
            space = replace(space, layers=layers,
                            reduction_layers=reduction_positions(space.dim, layers))
        reduce = self.reduce if space.reduction_layers else None
        if space.reduction_layers and reduce is None:
            raise ConfigError(
                f"the search found no reduction cell (its space had {self.space.layers} "
                f"cell(s)), so a network of {layers} cells cannot be built from it; retrain "
                "with fewer layers or search with --layers 2 or more"
            )
        return replace(self, space=space, reduce=reduce)

    def cells(self) -> dict[str, CellGenotype]:
        out = {"normal": self.normal}
        if self.reduce is not None:
            out["reduce"] = self.reduce
        return out

    def describe(self) -> str:
        """A readable multi-line summary of the cells."""
        lines = [f"space {self.space.name} ({self.space.layers} cells, "
                 f"{self.space.channels} channels)"]
        if not self.deep:
            lines.append("  no cells: the linear model (the direct path from input to output)")
            return "\n".join(lines)
        for kind, c in self.cells().items():
            lines.append(f"  {kind} cell, output node {c.n_nodes}:")
            lines.extend(f"    {e.src} -> {e.dst}: {e.op}" for e in c.edges)
        return "\n".join(lines)


# -- validation ------------------------------------------------------------------------
def validate(g: Genotype) -> None:
    if g.version != VERSION:
        raise GenotypeError(_version_message(g.version))
    if g.task not in ("classification", "regression"):
        raise GenotypeError(f"task must be classification or regression, got {g.task!r}")
    unknown = [op for op in g.space.ops if op not in OPS]
    if unknown:
        raise GenotypeError(
            f"the space lists unknown op(s) {', '.join(map(repr, unknown))}; "
            f"valid ops: {', '.join(OPS.names())}"
        )
    if g.output_dim < 1:
        raise GenotypeError(f"output_dim must be positive, got {g.output_dim}")
    if len(g.input_shape) != g.space.dim + 1 or any(s < 1 for s in g.input_shape):
        raise GenotypeError(
            f"input_shape {list(g.input_shape)} does not fit a space of dim {g.space.dim}"
        )
    has_reduction = bool(g.space.reduction_layers)
    if has_reduction and g.reduce is None:
        raise GenotypeError("the space has reduction cells but the genotype has no 'reduce' cell")
    if not has_reduction and g.reduce is not None:
        raise GenotypeError(
            "the genotype has a 'reduce' cell but the space has no reduction layers"
        )
    if not g.deep and g.space.direct_path:
        return  # the linear model: the direct path alone
    for kind, cell in g.cells().items():
        _validate_cell(kind, cell, g.space)


def _version_message(version: int) -> str:
    return (
        f"genotype schema version {version} is not supported (this mdlnas reads version "
        f"{VERSION}); re-run the search with this version of mdlnas"
    )


def _validate_cell(kind: str, cell: CellGenotype, space: SpaceConfig) -> None:
    if cell.n_nodes != space.n_nodes:
        raise GenotypeError(
            f"{kind} cell has {cell.n_nodes} nodes but the space has {space.n_nodes}"
        )
    seen: set[tuple[int, int]] = set()
    for e in cell.edges:
        if e.op not in OPS:
            raise GenotypeError(
                f"{kind} cell: unknown op {e.op!r} on edge {e.src}->{e.dst}; "
                f"valid ops: {', '.join(OPS.names())}"
            )
        if e.op == "zero":
            raise GenotypeError(f"{kind} cell: edge {e.src}->{e.dst} is 'zero'; omit it instead")
        if space.dim not in OPS.get(e.op).dims:
            raise GenotypeError(f"{kind} cell: op {e.op!r} does not apply to dim {space.dim}")
        if e.op not in space.ops:
            raise GenotypeError(
                f"{kind} cell: op {e.op!r} on edge {e.src}->{e.dst} is not among the space's "
                f"candidate ops ({', '.join(space.ops)})"
            )
        if not 0 <= e.src < e.dst:
            raise GenotypeError(
                f"{kind} cell: edge {e.src}->{e.dst} does not go forward (src < dst is "
                "required; a backward edge would make a cycle)"
            )
        if e.dst > cell.n_nodes:
            raise GenotypeError(
                f"{kind} cell: edge {e.src}->{e.dst} points past the output node {cell.n_nodes}"
            )
        if (e.src, e.dst) in seen:
            raise GenotypeError(f"{kind} cell: edge {e.src}->{e.dst} appears twice")
        seen.add((e.src, e.dst))
    fed = {0} | {e.dst for e in cell.edges}
    for e in cell.edges:
        if e.src not in fed:
            raise GenotypeError(
                f"{kind} cell: node {e.src} feeds node {e.dst} but has no input itself"
            )
    if cell.n_nodes not in fed:
        raise GenotypeError(f"{kind} cell: the output node {cell.n_nodes} is disconnected"
                            + ("; an empty cell is the linear model" if space.direct_path
                               else ""))


# -- parsing ---------------------------------------------------------------------------
# JSON is read field by field with strict types: a hand-edited or foreign file fails with
# the name of the field at fault instead of a numpy / torch error much later.
def _parse(data: Any) -> Genotype:
    if not isinstance(data, Mapping):
        raise GenotypeError("a genotype must be a JSON object")
    if data.get("schema") != SCHEMA:
        raise GenotypeError(
            f"not a genotype: expected schema {SCHEMA!r}, found {reprlib.repr(data.get('schema'))}"
        )
    version = _int(data, "version")
    if version != VERSION:  # before anything else: another version may be laid out otherwise
        raise GenotypeError(_version_message(version))
    cells = _object(data, "cells")
    normal = _parse_cell(cells, "normal")
    if normal is None:
        raise GenotypeError("a genotype needs a 'normal' cell")
    space = _parse_space(_object(data, "space"))
    return Genotype(
        space=space,
        task=_str(data, "task"),  # type: ignore[arg-type]  # validate() checks the value
        input_shape=tuple(_int_list(data, "input_shape")),
        output_dim=_int(data, "output_dim"),
        normal=normal,
        reduce=_parse_cell(cells, "reduce"),
        version=version,
    )


def _parse_space(raw: Mapping[str, Any]) -> SpaceConfig:
    ops = _list(raw, "ops", "space.")
    if not all(isinstance(op, str) for op in ops):
        raise _malformed("space.", "ops", "a list of op names", ops)
    try:
        return SpaceConfig(
            name=_str(raw, "name", "space."),
            dim=_int(raw, "dim", "space."),
            ops=tuple(ops),
            n_nodes=_int(raw, "n_nodes", "space."),
            layers=_int(raw, "layers", "space."),
            channels=_int(raw, "channels", "space."),
            reduction_layers=tuple(_int_list(raw, "reduction_layers", "space.")),
            # Files written before --growth existed used DARTS's doubling.
            channel_growth=_int(raw, "channel_growth", "space.") if "channel_growth" in raw else 2,
            # and before --stem-stride, a stem of stride 1
            stem_stride=_int(raw, "stem_stride", "space.") if "stem_stride" in raw else 1,
        )
    except ConfigError as exc:
        raise GenotypeError(f"genotype has an invalid space: {exc}") from None


def _parse_cell(cells: Mapping[str, Any], kind: str) -> CellGenotype | None:
    if cells.get(kind) is None:
        return None
    raw = _object(cells, kind, "cells.")
    where = f"cells.{kind}."
    edges = []
    for item in _list(raw, "edges", where):
        if not isinstance(item, list | tuple) or len(item) != 3:
            raise GenotypeError(f"an edge is [src, dst, op], got {reprlib.repr(item)}")
        src, dst, op = item
        if not (_is_int(src) and _is_int(dst) and isinstance(op, str)):
            raise GenotypeError(f"an edge is [src, dst, op], got {reprlib.repr(item)}")
        edges.append(Edge(src, dst, op))
    return CellGenotype(_int(raw, "n_nodes", where), tuple(edges))


def _field(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise GenotypeError(f"genotype field {where + key!r} is missing")
    return raw[key]


def _malformed(where: str, key: str, expected: str, value: Any) -> GenotypeError:
    return GenotypeError(
        f"genotype field {where + key!r} must be {expected}, got {reprlib.repr(value)}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(raw: Mapping[str, Any], key: str, where: str = "") -> int:
    value = _field(raw, key, where)
    if not _is_int(value):
        raise _malformed(where, key, "an integer", value)
    return int(value)


def _str(raw: Mapping[str, Any], key: str, where: str = "") -> str:
    value = _field(raw, key, where)
    if not isinstance(value, str):
        raise _malformed(where, key, "a string", value)
    return value


def _object(raw: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = _field(raw, key, where)
    if not isinstance(value, Mapping):
        raise _malformed(where, key, "an object", value)
    return value


def _list(raw: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
    value = _field(raw, key, where)
    if not isinstance(value, list | tuple):
        raise _malformed(where, key, "a list", value)
    return list(value)


def _int_list(raw: Mapping[str, Any], key: str, where: str = "") -> list[int]:
    values = _list(raw, key, where)
    if not all(_is_int(v) for v in values):
        raise _malformed(where, key, "a list of integers", values)
    return values
