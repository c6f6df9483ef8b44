"""`mdlnas compare`: the table, the Pareto picture and the command line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mdlnas.cli import main
from mdlnas.config import SearchConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError, RegistryError
from mdlnas.search.evaluation import pareto_front
from mdlnas.strategies import Budget, EvaluatorConfig
from mdlnas.workflow.compare import (
    CompareConfig,
    format_summary,
    format_table,
    run_compare,
    summarize,
)


def test_pareto_front_by_hand() -> None:
    points = [(100, 0.2), (50, 0.3), (200, 0.1), (150, 0.25), (50, 0.35), (100, 0.2)]
    # by size: (50, .3) (50, .35) (100, .2) (100, .2) (150, .25) (200, .1); each kept
    # point is smaller than every point with less error
    assert pareto_front(points) == [1, 0, 2]
    assert pareto_front([]) == []


def test_compare_writes_one_row_per_strategy_and_seed(tmp_path: Path) -> None:
    config = CompareConfig(
        data=DataConfig("iris"),
        strategies=("random", "darts"),
        budget=Budget(max_evaluations=2),
        seeds=2,
        evaluator=EvaluatorConfig(shared_steps=2, device="cpu"),
        search=SearchConfig(device="cpu"),
        train=TrainConfig(epochs=1, device="cpu"),
    )
    rows = run_compare(config, tmp_path)
    with (tmp_path / "compare.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(r["strategy"], r["seed"]) for r in table] == [
        ("random", "0"), ("darts", "0"), ("random", "1"), ("darts", "1")]
    required = {"strategy", "seed", "test_accuracy", "params", "description_length_bits",
                "search_seconds"}
    assert required <= set(table[0])
    assert all(0 <= float(r["test_accuracy"]) <= 1 and int(r["params"]) > 0 for r in table)
    assert (tmp_path / "pareto.png").stat().st_size > 0
    assert (tmp_path / "genotypes" / "darts-seed1.json").is_file()
    printed = format_table(rows).splitlines()
    assert printed[0].split()[:3] == ["strategy", "seed", "test_accuracy"] and len(printed) == 5


def _row(strategy: str, seed: int, accuracy: float, params: int) -> dict[str, object]:
    return {"strategy": strategy, "seed": seed, "test_accuracy": accuracy, "params": params,
            "description_length_bits": 10.0 * params, "search_seconds": 2.0 + seed,
            "evaluations": 4}


def test_summary_is_mean_and_sample_std_per_strategy() -> None:
    rows = [_row("mdl", 0, 0.90, 100), _row("darts", 0, 0.80, 400),
            _row("mdl", 1, 0.94, 200), _row("mdl", 2, 0.98, 600)]
    mdl, darts = summarize(rows)
    # by hand: accuracies .90 .94 .98 → mean .94, deviations ±.04 → var (2·.0016)/2 = .0016
    assert mdl["strategy"] == "mdl" and mdl["seeds"] == 3
    assert mdl["test_accuracy_mean"] == pytest.approx(0.94)
    assert mdl["test_accuracy_std"] == pytest.approx(0.04)
    # params 100 200 600 → mean 300; deviations −200 −100 300 → var 140000/2 = 70000
    assert mdl["params_mean"] == pytest.approx(300)
    assert mdl["params_std"] == pytest.approx(70000 ** 0.5)
    assert mdl["search_seconds_mean"] == pytest.approx(3.0)
    assert darts["seeds"] == 1 and darts["test_accuracy_std"] == 0.0
    lines = format_summary(rows).splitlines()
    assert lines[1].split()[:3] == ["mdl", "3", "0.940"] and "300 ± 265" in lines[1]


@pytest.mark.parametrize("bad", [{"strategies": ()}, {"strategies": ("random", "random")},
                                 {"seeds": 0}])
def test_invalid_comparisons_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        CompareConfig(data=DataConfig("iris"), **bad)  # type: ignore[arg-type]


def test_an_unknown_strategy_is_named_with_the_valid_ones() -> None:
    with pytest.raises(RegistryError, match="valid names"):
        CompareConfig(data=DataConfig("iris"), strategies=("nasbot",))


def test_cli_compare_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", "--data", "iris", "--strategies", "evolution,blockqnn", "--budget-evals",
            "2", "--train-epochs", "1", "--device", "cpu", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert capsys.readouterr().out == ""  # --quiet
    argv.remove("--quiet")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["strategy", "seed"]
    assert "evolution" in out and "blockqnn" in out
    assert "mean ± standard deviation" not in out  # one seed: nothing to average


def test_cli_compare_and_show_print_the_mean_over_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "--data", "iris", "--strategies", "random", "--budget-evals", "1",
            "--seeds", "2", "--train-epochs", "1", "--device", "cpu", "--out", str(tmp_path)]
    assert main(argv) == 0
    with (tmp_path / "compare.csv").open() as f:
        accuracies = [float(r["test_accuracy"]) for r in csv.DictReader(f)]
    expected = ["random", "2", f"{sum(accuracies) / 2:.3f}"]
    printed = capsys.readouterr().out.split("written to")[0]
    assert "mean ± standard deviation over 2 seeds" in printed
    assert printed.strip().splitlines()[-1].split()[:3] == expected
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "mean ± standard deviation over seeds" in shown
    assert shown.strip().splitlines()[-1].split()[:3] == expected


def test_cli_compare_reports_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "--strategies", "nasbot", "--out", str(tmp_path)]) == 2
    assert "unknown search strategy 'nasbot'" in capsys.readouterr().err
    assert main(["compare", "--budget-evals", "0", "--out", str(tmp_path)]) == 2
    assert "evaluation budget must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one budget or the other
        main(["compare", "--budget-evals", "2", "--budget-seconds", "3", "--out", str(tmp_path)])
