"""Reading and writing the small TOML files mdlnas keeps (flat tables of scalars and
arrays). Reading uses the standard library's ``tomllib``; writing is simple enough to do
here rather than add a dependency."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdlnas.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def dumps(tables: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> str:
    """TOML text of nested mappings; ``None`` values are written as commented-out keys
    (TOML has no null) and ``comments`` maps ``"table.key"`` to a comment written above
    that key, and ``"table"`` to one written above the table's header."""
    comments = comments or {}
    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, Mapping)}
        if prefix:
            note = comments.get(prefix)
            if note:
                lines.extend(f"# {line}" for line in note.splitlines())
            lines.append(f"[{prefix}]")
        for key, v in scalars.items():
            note = comments.get(f"{prefix}.{key}" if prefix else key)
            if note:
                lines.extend(f"# {line}" for line in note.splitlines())
            if v is None:
                lines.append(f"# {key} = (unset)")
            else:
                lines.append(f"{key} = {_value(v)}")
        lines.append("")
        for key, v in body.items():
            if isinstance(v, Mapping):
                table(f"{prefix}.{key}" if prefix else key, v)

    table("", tables)
    return "\n".join(lines).strip() + "\n"


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read config file {p} (TOML, UTF-8): {exc}; repair it or write it anew"
        ) from None


def write(path: str | Path, tables: Mapping[str, Any]) -> None:
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(dumps(tables))
    tmp.replace(target)
