"""The run directory a search writes (metrics.csv, alphas.csv, plots/) and `mdlnas show`."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from mdlnas.cli import main
from mdlnas.report.run_files import read_rows
from mdlnas.workflow.run_dir import load_run_config

PNG = b"\x89PNG\r\n\x1a\n"
EPOCHS = 2


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A retrained iris run (2 search epochs, 1 retraining epoch), plots drawn."""
    out = tmp_path_factory.mktemp("runs") / "iris"
    assert main(["search", "--data", "iris", "--epochs", str(EPOCHS), "--train-epochs", "1",
                 "--channels", "8", "--tol", "0", "--quiet", "--out", str(out)]) == 0
    return out


def test_the_run_directory_holds_every_file(run_dir: Path) -> None:
    for name in ("config.toml", "summary.json", "genotype.json", "metrics.csv", "alphas.csv",
                 "checkpoints/search.pt", "model.pt", "eval.json", "train_history.csv"):
        assert (run_dir / name).is_file(), name
    for name in ("alphas_normal.png", "curves.png", "cells.png"):
        assert (run_dir / "plots" / name).read_bytes().startswith(PNG), name


def test_metrics_has_one_row_per_epoch_with_losses_dl_entropy_and_rates(run_dir: Path) -> None:
    rows = read_rows(run_dir / "metrics.csv")
    assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
    for column in ("train_loss", "val_loss", "train_nll", "val_nll", "val_metric",
                   "description_length_bits", "alpha_entropy", "lam", "w_lr", "alpha_lr"):
        assert all(isinstance(row[column], float) for row in rows), column
    assert rows[0]["w_lr"] == 3e-3 and rows[0]["alpha_lr"] == 3e-2 and rows[0]["lam"] == 1.0


def test_alphas_is_long_format_and_each_edge_sums_to_one(run_dir: Path) -> None:
    with (run_dir / "alphas.csv").open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["epoch", "cell", "edge", "op", "gamma"]
        rows = list(reader)
    summary = json.loads((run_dir / "summary.json").read_text())
    ops, n_edges = summary["ops"], len(summary["gammas"]["normal"])
    assert len(rows) == (EPOCHS + 1) * n_edges * len(ops)  # epoch 0 is the start
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for row in rows:
        totals[row["epoch"], row["cell"], row["edge"]] += float(row["gamma"])
    assert all(abs(total - 1) < 1e-4 for total in totals.values())
    last = {(r["edge"], r["op"]): float(r["gamma"]) for r in rows if r["epoch"] == str(EPOCHS)}
    first_edge = [last["0->1", op] for op in ops]
    assert first_edge == pytest.approx(summary["gammas"]["normal"][0], abs=1e-4)


def test_show_prints_the_summary_and_the_genotype(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(run_dir)]) == 0
    text = capsys.readouterr().out
    for expected in ("data        iris", "space mlp", "test        accuracy", "genotype:",
                     "normal cell", "last epoch  2", "metrics.csv"):
        assert expected in text, expected
    assert main(["show", str(run_dir), "--json"]) == 0
    overview = json.loads(capsys.readouterr().out)
    assert overview["summary"]["dataset"] == "iris" and "test_accuracy" in overview["eval"]


def test_show_plots_redraws_the_pictures(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("plots"))
    assert main(["show", str(copy), "--plots", "--quiet"]) == 0
    assert sorted(p.name for p in (copy / "plots").iterdir()) == [
        "alphas_normal.png", "cells.png", "curves.png", "dl_per_weight.png"]


def test_show_an_unfinished_search_says_how_to_resume(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in ("summary.json", "genotype.json", "eval.json", "model.pt"):
        (copy / name).unlink()
    assert main(["show", str(copy)]) == 0
    assert f"mdlnas search --resume {copy}" in capsys.readouterr().out
    assert main(["show", str(copy), "--plots"]) == 2
    assert "no genotype yet" in capsys.readouterr().err


def test_show_a_comparison_prints_its_table_and_draws_the_pareto_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compare.csv").write_text(
        "strategy,seed,test_accuracy,test_nll,params,description_length_bits,search_seconds,"
        "evaluations,train_seconds\n"
        "mdl,0,0.9,0.3,120,800.0,1.5,4,0.2\nrandom,0,0.8,0.5,300,2000.0,1.0,4,0.2\n")
    assert main(["show", str(tmp_path), "--plots"]) == 0
    text = capsys.readouterr().out
    assert "mdl" in text and "random" in text and "test_accuracy" in text
    assert (tmp_path / "plots" / "pareto.png").read_bytes().startswith(PNG)


def test_show_a_folder_that_is_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_no_plots_and_a_resumed_search_keeps_one_set_of_rows_per_epoch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["search", "--data", "iris", "--epochs", "1", "--tol", "0", "--search-only",
                 "--no-plots", "--quiet", "--out", str(run)]) == 0
    assert not (run / "plots").exists()
    # A search killed after writing alphas.csv for epoch 2 but before its checkpoint:
    with (run / "alphas.csv").open("a") as f:
        f.write("2,normal,0->1,linear,0.5\n")
    config = (run / "config.toml").read_text().replace("max_epochs = 1", "max_epochs = 2")
    (run / "config.toml").write_text(config)
    assert main(["search", "--resume", str(run), "--search-only", "--quiet"]) == 0
    rows = read_rows(run / "alphas.csv")
    per_epoch = defaultdict(int)
    for row in rows:
        per_epoch[row["epoch"]] += 1
    assert sorted(per_epoch) == [0, 1, 2] and len(set(per_epoch.values())) == 1
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1, 2]
    assert (run / "plots" / "cells.png").is_file()  # drawn at the end of the resumed search


def test_a_run_written_before_a_setting_existed_keeps_its_behaviour(
    tmp_path: Path, run_dir: Path
) -> None:
    # A run directory from before --family-balance and --trial-epochs: its config.toml
    # lacks them, and it is read with the behaviour it was searched with, not the defaults.
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    text = (old / "config.toml").read_text()
    assert "family_balance" in text and "trial_epochs" in text  # written today
    lines = [line for line in text.splitlines()
             if not line.startswith(("family_balance", "trial_epochs"))]
    (old / "config.toml").write_text("\n".join(lines) + "\n")
    search = load_run_config(old).search
    assert (search.family_balance, search.trial_epochs) == ("raw", 0)
    today = load_run_config(run_dir).search
    assert (today.family_balance, today.trial_epochs) == ("balanced", 30)
