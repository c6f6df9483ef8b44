"""Every file the documentation points to is in the repository.

A reader of a fresh clone has only the clone: a relative link that resolves outside it, or
to nothing, and a citation of a design file kept elsewhere (``DESIGN §1``) are dead ends.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md"),
               *(ROOT / "benchmarks").glob("*.md")])
SOURCES = sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
                  *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "examples").glob("*.py")])
# [text](target) with a relative target; web addresses and in-page anchors are not files
LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE_CITATION = re.compile(r"DESIGN(\.md)? ?§|\.\./shared/")


def _relative_targets(text: str) -> list[str]:
    targets = [m.group(1).split("#", 1)[0] for m in LINK.finditer(text)]
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    for target in _relative_targets(doc.read_text(encoding="utf-8")):
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert path.exists(), f"{doc.name} links to a missing file: {target}"


def test_nothing_cites_a_file_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*DOCS, *SOURCES] if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE_CITATION.search(line)
    ]
    assert not offenders, "cites a file outside the repository: " + ", ".join(offenders)
