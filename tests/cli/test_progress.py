"""Progress of long commands on stderr (epoch, losses, DL, ETA), silenced by --quiet;
--json prints exactly one JSON object on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mdlnas.cli import main

IRIS = ["--data", "iris", "--channels", "4"]


def test_quiet_json_search_prints_one_object_and_nothing_else(tmp_path: Path) -> None:
    # A real process: stray prints, warnings and progress would all show here.
    result = subprocess.run(
        [sys.executable, "-m", "mdlnas", "search", *IRIS, "--epochs", "1", "--train-epochs",
         "1", "--quiet", "--json", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    summary = json.loads(result.stdout)
    assert summary["dataset"] == "iris" and "test_accuracy" in summary["eval"]


def test_search_reports_every_epoch_of_search_and_retraining(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", *IRIS, "--epochs", "2", "--tol", "0", "--train-epochs", "2",
                 "--no-plots", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    search_lines = [line for line in err.splitlines() if line.startswith("epoch   ")]
    assert len(search_lines) == 4  # two of search, two of retraining
    for line in search_lines[:2]:
        assert all(part in line for part in ("train F", "val NLL", "DL", "bits", "H(α)", "ETA"))
    assert all("train loss" in line and "ETA" in line for line in search_lines[2:])


def test_compare_reports_every_strategy_with_an_eta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", *IRIS[:2], "--strategies", "random,evolution", "--budget-evals",
                 "1", "--train-epochs", "1", "--out", str(tmp_path / "cmp"), "--json"]) == 0
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "ETA" in line][-1].startswith("[2/2]")
    printed = json.loads(captured.out)
    assert len(printed["rows"]) == 2
    assert [(e["strategy"], e["seeds"]) for e in printed["summary"]] == [
        ("random", 1), ("evolution", 1)]
    assert printed["summary"][1]["params_mean"] == printed["rows"][1]["params"]
    assert main(["compare", *IRIS[:2], "--strategies", "random", "--budget-evals", "1",
                 "--train-epochs", "1", "--out", str(tmp_path / "cmp2"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_reproduce_reports_every_xi_with_an_eta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reproduce", "sincos", "--xi", "0,0.1", "--out", str(tmp_path / "s")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "ETA" in line]
    assert len(lines) == 2 and "2/2 ξ" in lines[1]
