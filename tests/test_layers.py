"""The import contract: data flows one way, and a module imports only from its own layer or
the layers below it.

    foundation → data → space → search → train → strategies → report → reproduce
               → workflow → interfaces (the CLI, the estimators, the package's top)

The foundation (errors, registry, settings, config, device, distributed, memory, tomlio) is what
every layer may use. Every import statement counts, those inside functions and under
``TYPE_CHECKING`` too: a lazy import upward is still a dependency upward. A new top-level
module or package must be given a layer here before the suite passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mdlnas"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "registry", "settings", "config", "device", "distributed", "memory",
               "tomlio"}),
    frozenset({"data"}),
    frozenset({"space"}),
    frozenset({"search"}),
    frozenset({"train"}),
    frozenset({"strategies"}),
    frozenset({"report"}),
    frozenset({"reproduce"}),
    frozenset({"workflow"}),
    frozenset({"cli", "estimators", "__main__", "__init__"}),
)
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def top_level(module: str) -> str:
    """``mdlnas.space.cell`` → ``space``; ``mdlnas`` itself → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Every mdlnas module ``source`` (the text of ``module``) imports, with its line."""
    found: list[tuple[int, str]] = []
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mdlnas"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = package[: len(package) - node.level]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name.split(".")[0] == "mdlnas":
                # `from mdlnas import space` imports the package named by the alias
                targets = [f"{name}.{a.name}" if name == "mdlnas" else name for a in node.names]
                found += [(node.lineno, t) for t in targets]
    return found


def upward_imports(source: str, module: str) -> list[str]:
    """The imports of ``module`` that reach a higher layer than its own."""
    own = LAYER_OF[top_level(module)]
    return [
        f"{module}:{line} imports {target}"
        for line, target in imported_modules(source, module)
        if top_level(target) in LAYER_OF and LAYER_OF[top_level(target)] > own
    ]


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


MODULES = _modules()


def test_every_top_level_module_has_a_layer() -> None:
    unplaced = sorted({top_level(m) for m, _ in MODULES} - set(LAYER_OF))
    assert not unplaced, f"give these a layer in tests/test_layers.py: {unplaced}"


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_module_imports_upward(module: str, path: Path) -> None:
    if top_level(module) not in LAYER_OF:
        pytest.skip("not placed (the test above fails)")
    upward = upward_imports(path.read_text(encoding="utf-8"), module)
    assert not upward, "upward import: " + "; ".join(upward)


@pytest.mark.parametrize(
    "module,source",
    [
        ("mdlnas.space.cell", "from mdlnas.search.darts import search\n"),
        ("mdlnas.data.bundle", "import mdlnas.workflow\n"),
        ("mdlnas.search.darts", "def f():\n    from mdlnas import cli\n"),
        ("mdlnas.train.retrain", "from ..strategies import base\n"),
        ("mdlnas.config", "from typing import TYPE_CHECKING\n"
                          "if TYPE_CHECKING:\n    from mdlnas.space import cell\n"),
    ],
)
def test_a_planted_upward_import_is_caught(module: str, source: str) -> None:
    assert len(upward_imports(source, module)) == 1


def test_imports_downward_and_sideways_pass() -> None:
    source = "from mdlnas.errors import ConfigError\nfrom . import ops\nimport mdlnas.data\n"
    assert upward_imports(source, "mdlnas.space.cell") == []
