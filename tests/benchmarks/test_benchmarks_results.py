"""The pure parts of the results campaign: aggregation, the Pareto front, resuming, the
commands, and the sizes of the reference models. No search is run here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.references import (
    LeNet5,
    Mnist1dCNN,
    Mnist1dMLP,
    count_params,
    references_for,
    sklearn_params,
)
from benchmarks.report import aggregate, fmt_stat, mean_std, pareto_front, write_report
from benchmarks.results import (
    DARTS_FLAGS,
    Settings,
    check_settings,
    main,
    pending,
    plan,
    read_rows,
    row_from_search,
)

Row = dict[str, Any]


def _row(dataset: str, method: str, seed: int, acc: float, params: int, **kw: Any) -> Row:
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "metric": "accuracy",
        "test_accuracy": acc,
        "test_nll": kw.get("nll", 0.5),
        "params": params,
        "description_length_bits": kw.get("dl"),
        "search_seconds": kw.get("search", 0.0),
        "train_seconds": kw.get("train", 1.0),
        "lam": kw.get("lam"),
        "template": f"cmd {dataset} {method} --seed SEED",
        "campaign": "python benchmarks/results.py --datasets " + dataset,
    }


HAND_ROWS = [
    _row("wine", "mdl", 0, 0.90, 500, dl=4000.0, search=3.0, lam=1.0),
    _row("wine", "mdl", 1, 0.95, 520, dl=4100.0, search=4.0),
    _row("wine", "mdl", 2, 0.97, 560, dl=4300.0, search=5.0),
    _row("wine", "darts", 0, 0.93, 2000, search=1.0),
    _row("wine", "darts", 1, 0.91, 2400, search=2.0),
    _row("wine", "logistic-regression", 0, 0.99, 42),
]


# -- aggregation ------------------------------------------------------------------------
def test_mean_std_matches_numpy_sample_std() -> None:
    values = [0.9, 0.95, 0.97, None]
    stat = mean_std(values)
    assert stat is not None
    assert stat.n == 3
    assert stat.mean == pytest.approx(np.mean([0.9, 0.95, 0.97]))
    assert stat.std == pytest.approx(np.std([0.9, 0.95, 0.97], ddof=1))
    one = mean_std([4.0])
    assert one is not None and one.std is None
    assert mean_std([None, None]) is None


def test_aggregate_groups_by_dataset_and_method() -> None:
    summaries = {s.method: s for s in aggregate(HAND_ROWS)}
    assert list(summaries) == ["mdl", "darts", "logistic-regression"]
    mdl = summaries["mdl"]
    assert mdl.seeds == (0, 1, 2)
    expected: dict[str, list[float]] = {
        "metric": [0.90, 0.95, 0.97],
        "params": [500, 520, 560],
        "dl": [4000.0, 4100.0, 4300.0],
        "search": [3.0, 4.0, 5.0],
    }
    for column, values in expected.items():
        stat = mdl.stats[column]
        assert stat is not None
        assert stat.mean == pytest.approx(np.mean(values))
        assert stat.std == pytest.approx(np.std(values, ddof=1))
    assert summaries["darts"].stats["dl"] is None  # point weights: no description length
    assert summaries["logistic-regression"].stats["params"] == mean_std([42])


def test_fmt_stat() -> None:
    assert fmt_stat(mean_std([0.9, 0.95, 0.97]), "accuracy") == "0.940 ± 0.036"
    assert fmt_stat(mean_std([56.0, 57.5]), "rmse") == "56.75 ± 1.06"
    assert fmt_stat(mean_std([2000, 2400]), "count") == "2,200 ± 283"
    assert fmt_stat(None, "count") == "–"
    assert fmt_stat(mean_std([0.0, 0.0]), "seconds") == "0"


# -- the Pareto front -------------------------------------------------------------------
def test_pareto_front_on_a_hand_example() -> None:
    points = [
        (100, 0.20),  # 0: on the front
        (50, 0.30),  # 1: on the front (smallest)
        (200, 0.10),  # 2: on the front (best)
        (150, 0.25),  # 3: beaten by 0
        (50, 0.35),  # 4: beaten by 1 (same size, worse)
        (300, 0.10),  # 5: beaten by 2 (larger, same error)
        (100, 0.20),  # 6: a duplicate of 0; the first is kept
    ]
    assert pareto_front(points) == [1, 0, 2]
    assert pareto_front([]) == []


def test_pareto_front_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    points = [(float(a), float(b)) for a, b in rng.integers(0, 8, size=(40, 2))]
    front = set(pareto_front(points))
    for i, (x, y) in enumerate(points):
        dominated = any(
            (a <= x and b <= y) and (a < x or b < y) for j, (a, b) in enumerate(points) if j != i
        )
        duplicate_of_earlier = any(points[j] == (x, y) for j in range(i))
        assert (i in front) == (not dominated and not duplicate_of_earlier)


# -- resuming ---------------------------------------------------------------------------
def test_pending_skips_runs_that_have_rows(tmp_path: Path) -> None:
    settings = Settings(epochs=2)
    runs = plan(["mnist1d", "diabetes"], ["mdl", "darts", "references"], [0, 1], tmp_path,
                settings)  # fmt: skip
    assert len(runs) == 2 * 4 * 2
    assert {r.method for r in runs if r.dataset == "mnist1d"} == {
        "mdl", "darts", "mnist1d-mlp", "mnist1d-cnn"
    }  # fmt: skip
    done = [
        {"dataset": "mnist1d", "method": "mdl", "seed": 0},
        {"dataset": "diabetes", "method": "linear-regression", "seed": 1},
        {"dataset": "wine", "method": "mdl", "seed": 0},  # not in this campaign
    ]
    todo = pending(runs, done)
    assert len(todo) == len(runs) - 2
    keys = {r.key for r in todo}
    assert ("mnist1d", "mdl", 0) not in keys
    assert ("diabetes", "linear-regression", 1) not in keys
    assert ("mnist1d", "mdl", 1) in keys


def test_read_rows_skips_a_line_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(HAND_ROWS[0]) + "\n" + json.dumps(HAND_ROWS[1])[:20])
    assert read_rows(path) == [HAND_ROWS[0]]
    assert read_rows(tmp_path / "missing.jsonl") == []


def test_dry_run_lists_only_the_missing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rows.jsonl").write_text(
        json.dumps({"dataset": "mnist1d", "method": "mnist1d-cnn", "seed": 0}) + "\n"
    )
    args = ["--out", str(tmp_path), "--datasets", "mnist1d", "--seeds", "0,1",
            "--methods", "mnist1d-cnn", "--ref-steps", "10", "--dry-run"]  # fmt: skip
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "--model mnist1d-cnn --seed 1 --steps 10" in lines[0]
    assert not (tmp_path / "campaign.json").exists()  # a dry run writes nothing


def test_a_campaign_refuses_other_settings(tmp_path: Path) -> None:
    from dataclasses import asdict

    (tmp_path / "campaign.json").write_text(json.dumps({"settings": asdict(Settings(epochs=2))}))
    check_settings(tmp_path, Settings(epochs=2))
    with pytest.raises(SystemExit, match="epochs"):
        check_settings(tmp_path, Settings(epochs=3))


# -- commands and rows ------------------------------------------------------------------
def test_commands_darts_flags_come_last_and_templates_name_the_seed(tmp_path: Path) -> None:
    settings = Settings(epochs=5, extra="--lam 0.5 --warmup 2", threads=1)
    runs = {r.method: r for r in plan(["diabetes"], ["mdl", "darts"], [3], tmp_path, settings)}
    darts = runs["darts"].argv
    assert darts[:4] == ("python", "-m", "mdlnas", "search")
    assert darts[-len(DARTS_FLAGS) :] == DARTS_FLAGS
    assert darts[darts.index("--seed") + 1] == "3"
    assert "--lam 0.5 --warmup 2" in " ".join(runs["mdl"].argv)
    assert runs["mdl"].template.startswith("OMP_NUM_THREADS=1 ")
    assert "--seed SEED" in runs["mdl"].template and "diabetes-mdl-sSEED" in runs["mdl"].template


SEARCH_JSON: Row = {
    "dataset": "iris", "space": "mlp", "strategy": "mdl", "lam": 1.0, "xi": 0.0,
    "epochs_run": 1, "converged": False, "search_seconds": 0.24, "supernet_params": 9931,
    "description_length_bits": 20844.1, "genotype_params": 259, "run_dir": "/tmp/x",
    "eval": {"test_accuracy": 0.9, "test_nll": 0.3, "params": 259, "nonzero_params": 259,
             "flops": 224, "description_length_bits": 2442.8, "train_seconds": 0.15,
             "best_epoch": 1},
}  # fmt: skip


def test_row_from_search_json() -> None:
    mdl = row_from_search(SEARCH_JSON, "iris", "mdl", 0)
    assert (mdl["test_accuracy"], mdl["params"], mdl["description_length_bits"]) == (
        0.9, 259, 2442.8
    )  # fmt: skip
    assert (mdl["search_seconds"], mdl["train_seconds"], mdl["metric"]) == (0.24, 0.15, "accuracy")
    darts = row_from_search(SEARCH_JSON, "iris", "darts", 0)
    assert darts["description_length_bits"] is None
    scores = {k: v for k, v in SEARCH_JSON["eval"].items() if k != "test_accuracy"}
    regression = {**SEARCH_JSON, "eval": {**scores, "test_rmse": 55.0}}
    assert row_from_search(regression, "diabetes", "mdl", 0)["metric"] == "rmse"


def test_report_writes_a_table_and_a_picture(tmp_path: Path) -> None:
    written = write_report(HAND_ROWS, tmp_path, ["test machine"])
    table = (tmp_path / "table.md").read_text()
    assert "## wine" in table
    assert "| mdlnas (λ = 1) | 0.940 ± 0.036 |" in table
    assert "cmd wine darts --seed SEED" in table
    assert "python benchmarks/results.py --datasets wine" in table
    picture = tmp_path / "pareto_wine.png"
    assert picture in written and picture.stat().st_size > 1000


# -- reference models -------------------------------------------------------------------
def test_mnist1d_reference_models_have_the_papers_sizes() -> None:
    mlp, cnn = Mnist1dMLP(), Mnist1dCNN()
    assert count_params(mlp) == 15_210  # 40·100+100 + 100·100+100 + 100·10+10
    assert count_params(cnn) == 5_210  # 1·25·5+25 + 2·(25·25·3+25) + 125·10+10
    x = torch.zeros(3, 1, 40)
    assert mlp(x).shape == (3, 10) and cnn(x).shape == (3, 10)


def test_lenet5_size_by_hand() -> None:
    by_hand = (
        (1 * 6 * 5 * 5 + 6)  # conv 6@5×5
        + (6 * 16 * 5 * 5 + 16)  # conv 16@5×5
        + (16 * 5 * 5 * 120 + 120)  # fc 400 → 120
        + (120 * 84 + 84)  # fc 120 → 84
        + (84 * 10 + 10)  # fc 84 → 10
    )
    model = LeNet5()
    assert count_params(model) == by_hand == 61_706
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_params_count_coefficients_and_intercepts() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    x, y3 = rng.normal(size=(30, 4)), np.arange(30) % 3
    assert sklearn_params(LogisticRegression().fit(x, y3 % 2)) == 4 + 1  # binary: one row
    assert sklearn_params(LogisticRegression().fit(x, y3)) == 3 * 4 + 3
    assert sklearn_params(LinearRegression().fit(x, x[:, 0])) == 4 + 1
    mlp = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5).fit(x, y3)
    assert sklearn_params(mlp) == (4 * 5 + 5) + (5 * 3 + 3)


def test_references_for_known_datasets() -> None:
    assert references_for("mnist1d") == ("mnist1d-mlp", "mnist1d-cnn")
    assert references_for("fashion-mnist") == ("lenet5",)
    assert references_for("diabetes") == ("linear-regression", "mlp-regressor")
