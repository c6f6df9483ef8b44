"""docs/API.md is executable: every ```python block runs, in order, in one namespace, and
every ```sh block is a list of `mdlnas` commands that must succeed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mdlnas.cli import main

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "API.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNABLE = ("python", "sh")

# torch's note on the retraining's float() of the learned noise scale: not about the docs
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _blocks() -> list[tuple[str, str]]:
    return [(kind, code) for kind, code in FENCE.findall(API_DOC.read_text())]


def test_every_block_is_runnable_and_there_are_both_kinds() -> None:
    kinds = [kind for kind, _ in _blocks()]
    # A block in another language (or none) would silently escape the test below.
    assert set(kinds) == set(RUNNABLE), kinds


@pytest.mark.slow
def test_api_doc_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime", reason="the export example runs the ONNX graph")
    monkeypatch.chdir(tmp_path)  # the examples write files into the working directory
    namespace: dict[str, object] = {"__name__": "docs_api"}
    for number, (kind, code) in enumerate(_blocks(), start=1):
        if kind == "python":
            exec(compile(code, f"{API_DOC}:block{number}", "exec"), namespace)
            continue
        for line in code.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command = shlex.split(line)
            assert command[0] == "mdlnas", f"block {number}: not an mdlnas command: {line}"
            assert main(command[1:]) == 0, f"block {number}: {line}"
    assert (tmp_path / "predictions.csv").is_file()
