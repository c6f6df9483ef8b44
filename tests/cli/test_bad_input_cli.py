"""Bad input at the command line: exit code 2 and one line `mdlnas: error: ...` that names
the problem and the fix; a traceback only with --debug. Complements test_cli.py, which
covers an unknown dataset or op, λ < 0, zero epochs, a wrong space and a missing run dir.

Most cases call ``main`` in-process (they fail before any training, so they are quick);
the unsafe-pickle case runs the real executable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mdlnas import tomlio
from mdlnas.cli import main
from mdlnas.config import BayesConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.space.network import DerivedNetwork
from mdlnas.workflow import RunConfig, config_tables

SPACE = SpaceConfig("mlp", 0, ("linear", "identity", "zero"), n_nodes=2, layers=1, channels=8)
GENOTYPE = Genotype(SPACE, "classification", (4,), 3,
                    CellGenotype(2, (Edge(0, 1, "linear"), Edge(1, 2, "identity"))))


def _exit_code(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


def fails_cleanly(capsys: pytest.CaptureFixture[str], args: list[str], *expected: str) -> str:
    """Run ``mdlnas ARGS``: exit code 2, the last stderr line is the one error line and it
    contains every ``expected`` text; no traceback. Returns that line."""
    code = _exit_code(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("mdlnas: error: ")
    assert [text for text in expected if text not in line] == [], line
    return line


def make_run_dir(path: Path, *, model: bool = True) -> Path:
    """A small valid run directory for iris (as `mdlnas search` + `train` would leave it),
    written directly so that no training is needed."""
    path.mkdir(parents=True)
    run = RunConfig(data=DataConfig("iris"), space=SPACE, train=TrainConfig(epochs=1))
    tomlio.write(path / "config.toml", config_tables(run))
    GENOTYPE.save(path / "genotype.json")
    if model:
        state = DerivedNetwork(GENOTYPE, BayesConfig()).state_dict()
        torch.save({"state_dict": state}, path / "model.pt")
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run_dir(tmp_path / "run")


def test_the_valid_run_dir_evaluates(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control for the run-dir cases below: each fails only because of its one defect."""
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    assert "test_accuracy" in json.loads(capsys.readouterr().out)


# -- data files through `mdlnas search` -------------------------------------------------------
def _csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


TABLE = "a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(20))


@pytest.mark.parametrize(
    ("content", "target", "expected"),
    [
        (None, "y", ["data file not found:"]),
        ("", "y", ["is empty"]),
        (TABLE, None, ["name the target column with --target", "columns: a, b, y"]),
        (TABLE, "label", ["has no column 'label'", "columns: a, b, y"]),
        (TABLE.replace("3,6,1", "3,six,1"), "y",
         ["column 'b' holds the non-numeric value 'six' at data row 4", "numbers only"]),
        (TABLE.replace("3,6,1", "3,nan,1"), "y",
         ["column 'b' is missing a value at data row 4", "--impute mean|median"]),
        (TABLE.replace("3,6,1", "3,inf,1"), "y", ["holds 'inf' at data row 4", "must be finite"]),
        ("a,y\n" + "".join(f"{i},cat\n" for i in range(20)), "y",
         ["single class ('cat')", "needs at least two"]),
        ("a,y\n1,0\n2,1\n3,0\n", "y", ["too few rows (3)", "add rows or change the fractions"]),
    ],
    ids=["missing", "empty", "no --target", "no such column", "text feature", "NaN", "inf",
         "single class", "too few rows"],
)
def test_bad_csv_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None,
    target: str | None, expected: list[str],
) -> None:
    data = str(tmp_path / "absent.csv") if content is None else _csv(tmp_path / "d.csv", content)
    args = ["search", "--data", data, "--out", str(tmp_path / "out"), "--quiet"]
    fails_cleanly(capsys, args + (["--target", target] if target else []), *expected)


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"X": np.zeros((20, 2))},
         ["lacks the array(s) y; it holds: X", "np.savez(path, X=..., y=...)"]),
        ({"X": np.zeros((20, 2)), "y": np.arange(19) % 2}, ["X has 20 rows but y has 19"]),
    ],
    ids=["no y", "lengths differ"],
)
def test_bad_npz_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arrays: dict[str, Any],
    expected: list[str],
) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    fails_cleanly(capsys, ["search", "--data", str(path), "--out", str(tmp_path / "out")],
                  *expected)


# -- names and numbers ----------------------------------------------------------------------
SEARCH_OPTIONS: list[tuple[list[str], list[str]]] = [
    (["--space", "transformer"],
     ["invalid choice: 'transformer' (choose from 'conv1d', 'conv2d', 'mlp')",
      "see `mdlnas search --help`"]),
    (["--ops", "linear,conv_3"], ["op 'conv_3' does not fit space 'mlp' (dim 0); ops that do: "
                                  "identity, linear, linear_bottleneck, zero"]),
    (["--derive", "greedy"], ["invalid choice: 'greedy' (choose from 'mdl', 'darts')"]),
    (["--hypergradient", "magic"], ["invalid choice: 'magic' (choose from 'exact', 'fd')"]),
    (["--xi", "-1"], ["xi must be zero or positive, got -1.0"]),
    (["--xi", "inf"], ["xi must be a finite number, got inf"]),
    (["--lam", "nan"], ["lam must be a finite number, got nan"]),
    (["--lam", "abc"], ["argument --lam: invalid float value: 'abc'"]),
    (["--w-lr", "0"], ["w_lr must be positive, got 0.0"]),
    (["--alpha-lr", "-0.1"], ["alpha_lr must be positive, got -0.1"]),
    (["--train-lr", "-1"], ["lr must be positive, got -1.0", "see the --train-* options"]),
    (["--train-epochs", "0"], ["epochs must be a positive integer, got 0", "--train-*"]),
    (["--epochs", "1.5"], ["argument --epochs: invalid int value: '1.5'"]),
    (["--batch-size", "1000"],
     ["batch size 1000 is larger than the 90 training examples", "--batch-size 90 or less"]),
    (["--n-train", "1000"], ["n_train=1000 exceeds the 90 rows", "use at most 90"]),
    (["--seed", "-1"], ["seed must be a non-negative integer, got -1"]),
    (["--prior-std", "-1"], ["prior_std must be positive"]),
    (["--nodes", "0"], ["n_nodes must be a positive integer, got 0"]),
    (["--device", "tpu"], ["device must be auto, cpu, cuda or cuda:N, got 'tpu'"]),
]


@pytest.mark.parametrize(("options", "expected"), SEARCH_OPTIONS,
                         ids=[" ".join(options) for options, _ in SEARCH_OPTIONS])
def test_bad_search_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: list[str]
) -> None:
    args = ["search", "--data", "iris", "--out", str(tmp_path / "out"), "--quiet", *options]
    code = _exit_code(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1  # with --quiet, the error line is all there is
    assert err.startswith("mdlnas: error: ") and "Traceback" not in err
    assert [text for text in expected if text not in err] == [], err


def test_unknown_strategy_lists_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "--data", "iris", "--strategies", "mdl,annealing", "--quiet",
            "--out", str(tmp_path / "out")]
    fails_cleanly(capsys, args, "unknown search strategy 'annealing'",
                  "valid names: blockqnn, darts, enas, evolution, family, hierarchical, mdl, "
                  "random")


def test_unknown_command_and_missing_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    fails_cleanly(capsys, ["frobnicate"], "invalid choice: 'frobnicate'", "search", "train")
    fails_cleanly(capsys, ["reproduce"], "name an experiment", "mdlnas reproduce sincos")
    fails_cleanly(capsys, ["train"], "required: run_dir", "see `mdlnas train --help`")


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["search", "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "o")]
    assert main([*args, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "DataError" in err
    assert err.strip().splitlines()[-1].startswith("mdlnas: error: data file not found")


# -- run directories: `mdlnas train DIR` / `mdlnas evaluate DIR` ---------------------------
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_run_dir_without_genotype(
    run_dir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (run_dir / "genotype.json").unlink()
    fails_cleanly(capsys, [command, str(run_dir)], "no genotype file at",
                  "run `mdlnas search` to make one")


def test_existing_dir_that_is_not_a_run_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fails_cleanly(capsys, ["train", str(tmp_path)], "is not a run directory (no config.toml)",
                  "make one with `mdlnas search`")


def _genotype_with(change: Any) -> str:
    data = GENOTYPE.to_dict()
    change(data)
    return json.dumps(data)


def _edges(*edges: list[Any]) -> Any:
    return lambda d: d["cells"]["normal"].__setitem__("edges", list(edges))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"weights": [1, 2]}', "not a genotype: expected schema 'mdlnas.genotype'"),
        ("{not json", "genotype is not valid JSON"),
        (_genotype_with(_edges([0, 1, "warp"], [1, 2, "identity"])),
         "unknown op 'warp' on edge 0->1; valid ops:"),
        (_genotype_with(lambda d: d.__setitem__("version", 99)),
         "genotype schema version 99 is not supported"),
        (_genotype_with(_edges([0, 1, "linear"], [2, 1, "identity"], [1, 2, "linear"])),
         "edge 2->1 does not go forward"),
        (_genotype_with(_edges([0, 1, "linear"])), "the output node 2 is disconnected"),
    ],
    ids=["not a genotype", "not JSON", "unknown op", "version", "cycle", "disconnected"],
)
def test_run_dir_with_a_bad_genotype(
    run_dir: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    (run_dir / "genotype.json").write_text(text)
    line = fails_cleanly(capsys, ["train", str(run_dir)], expected,
                         "repair the file or run `mdlnas search` again")
    assert str(run_dir / "genotype.json") in line  # the user is told which file


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[data\nname =", "cannot read config file"),
        ('[data]\nname = "iris"\n[search]\nlam = "high"\n', "lam must be a number, got 'high'"),
        ('[data]\nname = "iris"\nrows = 5\n', "unknown option(s) rows in [data]; valid:"),
    ],
    ids=["not TOML", "text for a number", "unknown option"],
)
def test_run_dir_with_a_bad_config(
    run_dir: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    (run_dir / "config.toml").write_text(content)
    fails_cleanly(capsys, ["train", str(run_dir)], expected)


TRAIN_OPTIONS = [
    (["--epochs", "0"], "epochs must be a positive integer, got 0"),
    (["--lr", "-1"], "lr must be positive, got -1.0"),
    (["--seed", "-1"], "seed must be a non-negative integer, got -1"),
    (["--n-train", "1"], "n_train must be an integer of at least 2"),
    # refitting (the default) trains on the 90 training and 30 validation rows
    (["--batch-size", "1000"], "use --batch-size 120 or less"),
    (["--batch-size", "1000", "--no-refit"], "use --batch-size 90 or less"),
    (["--prune-snr", "-1", "--epochs", "1"], "the SNR threshold must be zero or positive"),
]


@pytest.mark.parametrize(("options", "expected"), TRAIN_OPTIONS,
                         ids=[" ".join(options) for options, _ in TRAIN_OPTIONS])
def test_bad_train_option(
    run_dir: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    fails_cleanly(capsys, ["train", str(run_dir), "--quiet", *options], expected)


def test_evaluate_without_a_trained_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run_dir(tmp_path / "run", model=False)
    fails_cleanly(capsys, ["evaluate", str(run)], "has no trained model",
                  f"run `mdlnas train {run}` first")


def test_evaluate_a_damaged_model_file(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "model.pt").write_bytes(b"PK\x03\x04 this is not a model")
    fails_cleanly(capsys, ["evaluate", str(run_dir)], f"cannot load {run_dir / 'model.pt'}",
                  "damaged", f"mdlnas train {run_dir}")


# -- safe loading -----------------------------------------------------------------------------
class _Payload:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file. A loader
    that runs code from the file would leave the marker behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_a_model_file_that_would_run_code_is_refused(run_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": _Payload(marker)}, run_dir / "model.pt")
    # The real executable: exit status and output exactly as a user sees them.
    result = subprocess.run([sys.executable, "-m", "mdlnas", "evaluate", str(run_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert not marker.exists(), "unpickling ran code from model.pt"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"mdlnas: error: cannot load {run_dir / 'model.pt'} safely")
    assert result.stdout == ""


def test_the_payload_does_run_code_when_unpickled_unsafely(tmp_path: Path) -> None:
    """Control for the test above: the crafted file really is dangerous."""
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": _Payload(marker)}, tmp_path / "model.pt")
    torch.load(tmp_path / "model.pt", weights_only=False)
    assert marker.exists()


# -- known gaps, in files another change owns ------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [{"weights": torch.zeros(3)}, [1, 2], {"state_dict": {"x": torch.zeros(2)}}],
    ids=["no state_dict", "not a dict", "other network"],
)
def test_evaluate_a_model_file_of_the_wrong_shape(
    run_dir: Path, capsys: pytest.CaptureFixture[str], payload: Any
) -> None:
    torch.save(payload, run_dir / "model.pt")
    fails_cleanly(capsys, ["evaluate", str(run_dir)], "model.pt")


def test_the_refusal_says_what_to_do(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({"state_dict": _Payload(run_dir / "marker")}, run_dir / "model.pt")
    line = fails_cleanly(capsys, ["evaluate", str(run_dir)], f"mdlnas train {run_dir}")
    assert "weights_only" not in line


def test_run_dir_with_a_config_that_is_not_utf8(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_dir / "config.toml").write_bytes(b"\xff\xfe[data]")
    fails_cleanly(capsys, ["train", str(run_dir)], "config.toml")
