"""The command line as a user runs it: help, a whole search → train → evaluate, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mdlnas.cli import build_parser, main
from mdlnas.space.genotype import Genotype


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdlnas", *args], capture_output=True, text=True, timeout=600
    )


def test_every_command_has_help_with_defaults() -> None:
    parser = build_parser()
    top = parser.format_help()
    for command in ("search", "train", "evaluate", "reproduce", "list"):
        assert command in top
    result = run_cli("search", "--help")
    assert result.returncode == 0
    assert "description length" in result.stdout
    assert "(default: 1.0)" in result.stdout  # --lam shows its default
    assert "(default: mnist1d)" in result.stdout
    assert run_cli("reproduce", "sincos", "--help").returncode == 0


def test_search_train_evaluate_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "search",
            "--data",
            "iris",
            "--epochs",
            "2",
            "--train-epochs",
            "2",
            "--channels",
            "8",
            "--out",
            str(out),
            "--quiet",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    for key in (
        "dataset",
        "space",
        "strategy",
        "lam",
        "xi",
        "epochs_run",
        "converged",
        "search_seconds",
        "supernet_params",
        "genotype_params",
        "description_length_bits",
        "val_metric",
    ):
        assert key in summary, key
    assert summary["dataset"] == "iris" and summary["space"] == "mlp"  # chosen from the data
    assert summary["epochs_run"] == 2
    genotype = Genotype.load(out / "genotype.json")
    assert genotype.input_shape == (4,) and genotype.output_dim == 3
    evaluation = json.loads((out / "eval.json").read_text())
    assert 0.0 <= evaluation["test_accuracy"] <= 1.0
    assert evaluation["params"] == summary["genotype_params"]
    assert evaluation["flops"] > 0
    assert (out / "model.pt").is_file() and (out / "metrics.csv").is_file()

    # re-evaluating the saved model reproduces the test scores exactly
    assert main(["evaluate", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test_accuracy"] == evaluation["test_accuracy"]
    assert again["test_nll"] == pytest.approx(evaluation["test_nll"], rel=1e-6)


def test_train_with_pruning_reports_before_and_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "search",
                "--data",
                "wine",
                "--epochs",
                "1",
                "--search-only",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (
        main(["train", str(out), "--epochs", "3", "--prune-snr", "2.0", "--quiet", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    pruning = result["pruning"]
    assert pruning["pruned_weights"] > 0
    assert pruning["after"]["nonzero_params"] == (
        pruning["before"]["nonzero_params"] - pruning["pruned_weights"]
    )
    assert result["nonzero_params"] < result["params"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--data", "no-such-set"], "unknown dataset"),
        (["search", "--data", "iris", "--lam", "-1"], "lam"),
        (["search", "--data", "iris", "--epochs", "0"], "max_epochs"),
        (["search", "--data", "iris", "--ops", "linear,warp_drive"], "warp_drive"),
        (["search", "--data", "iris", "--space", "conv2d"], "pick a space"),
        (["train", "/nonexistent/run"], "not a run directory"),
        (["evaluate", "/nonexistent/run"], "not a run directory"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run_cli(*args, "--out", str(tmp_path / "x")) if args[0] == "search" else run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("mdlnas: error:")


def test_reproduce_sincos_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "sincos"
    result = run_cli("reproduce", "sincos", "--out", str(out), "--xi", "0,0.5", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [run["xi"] for run in summary["runs"]] == [0.0, 0.5]
    assert (out / "trajectories.csv").is_file() and (out / "trajectories.png").is_file()


def test_train_keeps_the_runs_settings_unless_told(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "search",
                "--data",
                "iris",
                "--epochs",
                "1",
                "--train-epochs",
                "2",
                "--seed",
                "4",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert main(["train", str(out), "--quiet"]) == 0
    lines = (out / "train_history.csv").read_text().splitlines()
    assert len(lines) == 1 + 2  # header + the run's two epochs
    assert main(["train", str(out), "--epochs", "3", "--quiet"]) == 0
    lines = (out / "train_history.csv").read_text().splitlines()
    assert len(lines) == 1 + 3
    from mdlnas.workflow import load_run_config

    saved = load_run_config(out).train
    assert saved.epochs == 3 and saved.seed == 4


def test_a_plain_darts_run_can_be_retrained_variationally_and_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    search = ["search", "--data", "wine", "--epochs", "1", "--lam", "0", "--deterministic",
              "--train-deterministic", "--train-epochs", "1", "--quiet", "--out", str(out)]
    assert main(search) == 0
    capsys.readouterr()
    from mdlnas.workflow import load_run_config

    assert load_run_config(out).train.bayes.variational is False
    # --prune-snr needs σ, which point weights do not have ...
    assert main(["train", str(out), "--epochs", "2", "--prune-snr", "1", "--quiet"]) == 2
    assert "drop --deterministic" in capsys.readouterr().err
    # ... and --variational gives them.
    args = ["train", str(out), "--epochs", "2", "--variational", "--prune-snr", "1.0"]
    assert main([*args, "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pruning"]["pruned_weights"] > 0
    assert load_run_config(out).train.bayes.variational is True
    assert main(["train", str(out), "--variational", "--deterministic", "--quiet"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    # `mdlnas config --defaults | head -1`: the pipe closes before mdlnas writes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdlnas", "config", "--defaults"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_proxy_search_retrains_the_cells_wider_and_deeper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Search small, retrain large: `mdlnas train DIR --channels C --layers L` builds the
    found cells in a frame of that width and depth (reductions at a third and two thirds),
    eval.json says so, and the saved model loads and predicts in that frame."""
    from mdlnas.space.network import DerivedNetwork, count_weights
    from mdlnas.workflow import load_run_config
    from mdlnas.workflow.run_dir import load_genotype, load_model

    out = tmp_path / "run"
    argv = ["search", "--data", "mnist1d", "--n-train", "200", "--epochs", "1", "--calibrate",
            "0", "--channels", "4", "--search-only", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert main(["train", str(out), "--channels", "6", "--layers", "4", "--epochs", "1",
                 "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["channels"], result["layers"]) == (6, 4)
    found = load_genotype(out)
    assert (found.space.channels, found.space.layers) == (4, 3)  # the file keeps the search's
    big = found.scaled(channels=6, layers=4)
    assert big.space.reduction_layers == (1, 2) and big.normal == found.normal
    bayes = load_run_config(out).train.bayes
    assert result["params"] == count_weights(DerivedNetwork(big, bayes))
    assert result["params"] > count_weights(DerivedNetwork(found, bayes))
    model = load_model(out, device="cpu")
    assert model.genotype == big


def test_a_genotype_without_a_reduction_cell_cannot_grow_reductions() -> None:
    from mdlnas.config import SpaceConfig
    from mdlnas.errors import ConfigError
    from mdlnas.space.genotype import CellGenotype, Edge, Genotype

    space = SpaceConfig("conv1d", 1, ("conv_3", "zero"), 1, 1, 4)
    one_cell = Genotype(space, "classification", (1, 16), 3,
                        CellGenotype(1, (Edge(0, 1, "conv_3"),)))
    assert one_cell.scaled(channels=8).space.channels == 8
    with pytest.raises(ConfigError, match="no reduction cell"):
        one_cell.scaled(layers=3)
    assert one_cell.scaled() is one_cell


def test_augmented_retraining_changes_every_batch_and_refuses_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--train-augment shift-flip` is saved with the run and reaches each retraining
    batch, and `mdlnas train --augment` on a table is one clear error."""
    import mdlnas.train.retrain as retrain_module
    from mdlnas.train.augment import augment_batch as original
    from mdlnas.workflow import load_run_config

    kinds: list[str] = []

    def spy(x: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
        kinds.append(kind)
        return original(x, kind, generator)  # type: ignore[arg-type]

    monkeypatch.setattr(retrain_module, "augment_batch", spy)
    out = tmp_path / "img"
    assert main(["search", "--data", "digits-image", "--n-train", "128", "--epochs", "1",
                 "--calibrate", "0", "--train-epochs", "2", "--train-batch-size", "32",
                 "--train-augment", "shift-flip", "--quiet", "--out", str(out)]) == 0
    assert load_run_config(out).train.augment == "shift-flip"
    assert kinds and set(kinds) == {"shift-flip"}
    # two epochs of at least 128 rows (refit adds the validation rows) in batches of 32
    assert len(kinds) % 2 == 0 and len(kinds) >= 2 * 128 // 32

    table = tmp_path / "table"
    assert main(["search", "--data", "wine", "--epochs", "1", "--calibrate", "0",
                 "--search-only", "--quiet", "--out", str(table)]) == 0
    capsys.readouterr()
    assert main(["train", str(table), "--augment", "shift", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "table of features; leave --augment at none" in err and "Traceback" not in err
    assert load_run_config(table).train.augment == "none"  # the refused setting is not kept
    # the search refuses it before searching, and leaves nothing behind
    assert main(["search", "--data", "wine", "--epochs", "1", "--train-augment", "shift",
                 "--quiet", "--out", str(tmp_path / "no")]) == 2
    assert "leave --augment at none" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
