"""A family search as a user runs it: --lam-range, --max-weights, --retrain, show, train --lam."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mdlnas.cli import main
from mdlnas.strategies import family
from mdlnas.workflow.family import read_front

FAST = ["--data", "iris", "--epochs", "4", "--train-epochs", "2", "--quiet"]


def test_a_budget_picks_a_network_of_the_family_within_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    # α fast enough that 8 epochs spread the family from large networks to the linear one
    code = main(["search", *FAST, "--epochs", "8", "--alpha-lr", "0.3", "--lam-knots", "4",
                 "--lam-range", "0.01:100", "--lam-points", "5", "--max-weights", "60",
                 "--retrain", "2", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    rows = read_front(out)
    assert [round(r["lam"], 6) for r in rows] == [0.01, 0.1, 1.0, 10.0, 100.0]
    chosen = [r for r in rows if r["chosen"]]
    # retrained at the width that fills the budget (--budget-fill, the default)
    assert len(chosen) == 1 and summary["eval"]["params"] == chosen[0]["fitted_weights"] <= 60
    assert summary["lam"] == pytest.approx(chosen[0]["lam"])
    assert summary["family"]["max_weights"] == 60
    names = {r["genotype"] for r in rows}
    assert len(names) >= 2  # the family holds networks of different sizes
    assert sum(isinstance(r["test_metric"], float) for r in rows) == 2
    assert {p.name for p in (out / "genotypes").iterdir()} == names
    assert (out / "plots" / "front.png").is_file()

    # show prints the family's table, read back from front.csv
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "the family (front.csv)" in shown and "← chosen" in shown
    assert shown.count(".json") >= len(rows)

    # train --lam retrains the family's network of the nearest λ, at that λ
    assert main(["train", str(out), "--lam", "90", "--epochs", "1", "--quiet", "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    rows = read_front(out)
    assert [r["chosen"] for r in rows] == [False, False, False, False, True]
    assert evaluation["params"] == rows[-1]["weights"]
    # a λ outside every family is one line, and changes nothing
    assert main(["train", str(out), "--lam", "0", "--epochs", "1", "--quiet"]) == 2
    assert "names no network of the family" in capsys.readouterr().err
    assert [r["chosen"] for r in read_front(out)] == [False, False, False, False, True]


def test_trial_trainings_pick_the_best_tried_network_within_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    code = main(["search", *FAST, "--epochs", "8", "--alpha-lr", "0.3", "--lam-knots", "4",
                 "--lam-range", "0.01:100", "--lam-points", "5", "--max-weights", "400",
                 "--trial-epochs", "2", "--no-budget-fill", "--out", str(out)])
    assert code == 0
    rows = read_front(out)
    tried = [r for r in rows if r["trial_val_metric"] is not None]
    within = {r["genotype"] for r in rows if r["weights"] <= 400}
    # one trial per distinct network within the budget, none outside it
    assert sorted(r["genotype"] for r in tried) == sorted(within)
    (chosen,) = [r for r in rows if r["chosen"]]
    best = max(r["trial_val_metric"] for r in tried)
    assert chosen in tried and chosen["trial_val_metric"] == best
    assert chosen["weights"] == min(r["weights"] for r in tried
                                    if r["trial_val_metric"] == best)
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    assert "trial accuracy" in capsys.readouterr().out

    # a finished run resumed reads its family again and keeps its trials: none is repeated
    def no_training(*_: object) -> float:
        raise AssertionError("a trial measured before was trained again")

    monkeypatch.setattr(family, "trial_metric", no_training)
    assert main(["search", "--resume", str(out), "--search-only", "--quiet"]) == 0
    again = read_front(out)
    assert [r["trial_val_metric"] for r in again] == [r["trial_val_metric"] for r in rows]
    assert [r["chosen"] for r in again] == [r["chosen"] for r in rows]


def _budget_run(out: Path, budget: int, trial_epochs: int,
                capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A family spread from large networks to the linear one, picked within ``budget``
    with the defaults' fill: the JSON summary and front.csv's rows."""
    code = main(["search", *FAST, "--epochs", "8", "--alpha-lr", "0.3", "--lam-knots", "4",
                 "--lam-range", "0.01:100", "--lam-points", "5", "--max-weights", str(budget),
                 "--trial-epochs", str(trial_epochs), "--out", str(out), "--json"])
    assert code == 0
    return json.loads(capsys.readouterr().out), read_front(out)


def test_filling_the_budget_tries_every_network_at_its_widest_width_within_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--budget-fill (the default): each distinct network of the family, rebuilt in the
    widest frame within the budget (an independent count: one channel more is over it), is
    tried once at that width, and the chosen one is retrained at it."""
    from mdlnas.space.genotype import Genotype
    from mdlnas.strategies.family import size_of
    from mdlnas.workflow import load_run_config

    out = tmp_path / "run"
    budget = 150
    summary, rows = _budget_run(out, budget, 2, capsys)
    bayes = load_run_config(out).train.bayes
    fitted_rows = [r for r in rows if "fitted_channels" in r]
    for row in fitted_rows:
        genotype = Genotype.load(out / "genotypes" / row["genotype"])
        width = row["fitted_channels"]
        assert size_of(genotype.scaled(channels=width), bayes).weights == row["fitted_weights"]
        assert row["fitted_weights"] <= budget
        wider = size_of(genotype.scaled(channels=width + 1), bayes).weights
        # one channel more is over the budget, or adds nothing (no op depends on the width)
        assert wider > budget or (wider == row["fitted_weights"]
                                  and width == genotype.space.channels)
    # every network that fits at some width is tried once, wider or narrower than searched
    tried = [r for r in rows if r["trial_val_metric"] is not None]
    assert sorted(r["genotype"] for r in tried) == sorted({r["genotype"] for r in fitted_rows})
    assert any(r["weights"] > budget for r in tried) or any(
        r["fitted_weights"] > r["weights"] for r in tried)
    (chosen,) = [r for r in rows if r["chosen"]]
    assert chosen["trial_val_metric"] == max(r["trial_val_metric"] for r in tried)
    assert summary["eval"]["params"] == chosen["fitted_weights"] <= budget
    assert summary["eval"]["channels"] == chosen["fitted_channels"]
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    assert "budget width" in capsys.readouterr().out
    # train --lam: the family's network of that λ, at the width the budget fitted it to
    assert main(["train", str(out), "--lam", str(chosen["lam"]), "--epochs", "1", "--quiet",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == chosen["fitted_weights"]


def test_without_trials_the_fill_widens_the_pick_made_at_the_searched_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    budget = 150
    summary, rows = _budget_run(out, budget, 0, capsys)
    within = [r for r in rows if r["weights"] <= budget]  # as searched
    (chosen,) = [r for r in rows if r["chosen"]]
    assert chosen["val_metric"] == max(r["val_metric"] for r in within)
    assert chosen["weights"] <= chosen["fitted_weights"] == summary["eval"]["params"] <= budget
    # only the pick was fitted
    assert {r["genotype"] for r in rows if "fitted_weights" in r} == {chosen["genotype"]}


def test_filling_the_budget_and_a_retraining_width_are_refused_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["search", *FAST, "--max-weights", "100", "--train-channels", "8",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "drop --train-channels / --train-layers" in err
    assert not out.exists()


def test_a_budget_below_every_network_of_the_space_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["search", *FAST, "--max-weights", "10", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    # iris in the mlp space: the linear model, 4 features × 3 classes + 3
    assert "smallest network of space mlp, 15 weights" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()  # nothing was started


def test_a_family_that_misses_the_budget_falls_back_to_the_smallest_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 4 epochs at the default α rate: the family is still large everywhere
    out = tmp_path / "run"
    code = main(["search", *FAST, "--lam-range", "1:10", "--lam-points", "2",
                 "--max-weights", "15", "--no-budget-fill", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert all(r["weights"] > 15 for r in read_front(out))
    assert summary["eval"]["params"] == 15  # the linear model: never over the budget


def test_retrain_without_a_family_and_lam_with_a_range_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", *FAST, "--retrain", "3", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--lam-range" in capsys.readouterr().err
    code = main(["search", *FAST, "--lam", "0.5", "--lam-range", "0.1:1",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "replaces --lam" in capsys.readouterr().err
    code = main(["search", *FAST, "--lam", "0.5", "--max-weights", "100",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "give --lam-range LO:HI instead of --lam" in capsys.readouterr().err
    code = main(["search", *FAST, "--lam-range", "0.1:1", "--retrain", "-1",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--retrain takes a number" in capsys.readouterr().err
    for bad in ("1:0.1", "0:1", "x:1", "0.5"):
        code = main(["search", *FAST, "--lam-range", bad, "--out", str(tmp_path / "run")])
        assert code == 2
        assert "lam_range must be LO:HI" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
