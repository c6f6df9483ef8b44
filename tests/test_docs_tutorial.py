"""docs/TUTORIAL.md works as written: every code block runs, in order, in one directory
(with one epoch wherever the tutorial asks for many), and docs/CLI.md is the reference
the parser generates today."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from mdlnas.cli import main
from mdlnas.cli.reference import render

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def quick(text: str) -> str:
    """The tutorial's epochs, cut to one."""
    text = re.sub(r"(--(?:train-)?epochs) \d+", r"\1 1", text)
    return re.sub(r"^((?:max_)?epochs) = \d+", r"\1 = 1", text, flags=re.MULTILINE)


def run_command(line: str) -> None:
    """One `mdlnas ...` line of a bash block, in-process; `> FILE` captures stdout."""
    command, _, target = line.partition(" > ")
    words = shlex.split(command)
    assert words[0] == "mdlnas", f"the tutorial runs only mdlnas commands: {line!r}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(words[1:])
    assert code == 0, f"{line!r} failed"
    if target:
        Path(target.strip()).write_text(out.getvalue())


@pytest.mark.slow
def test_every_tutorial_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    text = (DOCS / "TUTORIAL.md").read_text(encoding="utf-8")
    assert "<!-- export-and-predict: begin" in text and "<!-- export-and-predict: end" in text
    ran = []
    for language, body in BLOCK.findall(text):
        body = quick(body)
        if language == "python":
            exec(compile(body, "TUTORIAL.md", "exec"), {})
        elif language == "toml":
            name = re.match(r"# file: (\S+)\n", body)
            assert name, "a toml block starts with `# file: NAME`"
            Path(name.group(1)).write_text(body)
        elif language == "bash":
            for line in body.splitlines():
                if line.strip() and not line.startswith("#"):
                    run_command(line.strip() + " --quiet" * (" > " not in line))
                    ran.append(line.split()[1])
        else:
            pytest.fail(f"a {language} block: the test does not know how to run it")
    assert {"search", "show", "train", "evaluate", "predict", "export", "config"} <= set(ran)
    assert (tmp_path / "runs/wine/plots/cells.png").is_file()
    assert (tmp_path / "runs/wine/eval.json").is_file()
    predictions = (tmp_path / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 1 + 5 and predictions[0].startswith("prediction,p_")
    assert "lam = 0.0" in (tmp_path / "runs/wine-darts/config.toml").read_text()


def test_the_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "CLI.md").read_text(encoding="utf-8") == render(), (
        "docs/CLI.md is out of date: python -m mdlnas.cli.reference > docs/CLI.md"
    )
