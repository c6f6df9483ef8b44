"""Every script in examples/ runs, with ``--quick`` (tiny settings), and prints what its
docstring promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def _run(script: Path, tmp_path: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script), "--quick"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_there_are_examples_and_each_says_how_to_run_it() -> None:
    assert SCRIPTS
    for script in SCRIPTS:
        assert f"python examples/{script.name}" in script.read_text(), script.name


def test_complexity_dial_prints_one_row_per_lambda(tmp_path: Path) -> None:
    out = _run(EXAMPLES / "complexity_dial.py", tmp_path)
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [float(r[0]) for r in rows] == [0.01, 0.1, 1.0]
    assert all(int(r[1]) > 0 and 0.0 <= float(r[2]) <= 1.0 for r in rows)


def test_own_table_searches_shows_and_predicts(tmp_path: Path) -> None:
    out = _run(EXAMPLES / "own_table.py", tmp_path)
    assert "5 predictions written" in out
    predictions = out.split("prediction\n", 1)[1].split()
    assert len(predictions) == 5 and all(re.fullmatch(r"-?[\d.]+(e-?\d+)?", p)
                                         for p in predictions)
