"""``mdlnas compare``: every strategy on the same data, space and budget, then retrained.

For each seed the data are split once; every strategy searches them with the same budget
and the same evaluator settings, its genotype is retrained from scratch with the same
training settings (and seed) as every other, and tested once. The output directory gets

- ``compare.csv``: one row per (strategy, seed), rewritten after every row so a long run
  keeps what it has done;
- ``pareto.png``: test error (or RMSE) against parameters, one marker per strategy, with
  the Pareto front of all rows;
- ``genotypes/STRATEGY-seedK.json``: every genotype found.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mdlnas.config import SearchConfig, TrainConfig
from mdlnas.data import DataConfig, load
from mdlnas.errors import ConfigError
from mdlnas.report.pareto import plot_pareto
from mdlnas.report.progress import eta
from mdlnas.space.presets import SpaceOverrides, make_space, space_for
from mdlnas.strategies import (
    STRATEGIES,
    STRATEGY_ORDER,
    Budget,
    EvaluatorConfig,
    Problem,
    StrategySettings,
    make_strategy,
)
from mdlnas.train.retrain import evaluate, retrain

Progress = Callable[[str], None]
Row = dict[str, Any]


def _silent(_: str) -> None:
    pass


@dataclass(frozen=True)
class CompareConfig:
    """One comparison. Seeds are ``data.seed``, ``data.seed + 1``, ...: each seed has its
    own split, initialisations and strategy randomness, shared by all strategies."""

    data: DataConfig
    space_name: str | None = None  # None: chosen from the data (tabular → mlp, ...)
    overrides: SpaceOverrides = field(default_factory=SpaceOverrides)
    strategies: tuple[str, ...] = STRATEGY_ORDER
    budget: Budget = field(default_factory=lambda: Budget(max_evaluations=10))
    seeds: int = 1
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise ConfigError("name at least one strategy to compare")
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"strategies are named twice: {', '.join(self.strategies)}")
        for name in self.strategies:
            STRATEGIES.get(name)  # an unknown name fails here, listing the valid ones
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"seeds must be a positive integer, got {self.seeds!r}")


def run_compare(config: CompareConfig, out_dir: Path, progress: Progress = _silent) -> list[Row]:
    """Run the comparison, write ``out_dir`` and return its rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "genotypes").mkdir(exist_ok=True)
    settings = StrategySettings(evaluator=config.evaluator, search=config.search)
    rows: list[Row] = []
    total = config.seeds * len(config.strategies)
    started = time.perf_counter()
    for k in range(config.seeds):
        seed = config.data.seed + k
        data = load(replace(config.data, seed=seed))
        space = make_space(config.space_name or space_for(data.modality), config.overrides)
        problem = Problem(data, space, seed)
        for name in config.strategies:
            progress(f"[{len(rows) + 1}/{total}] seed {seed}: {name} searches {data.name} "
                     f"in space {space.name} ({config.budget.describe()})")
            found = make_strategy(name, settings).run(problem, config.budget)
            found.genotype.save(out_dir / "genotypes" / f"{name}-seed{seed}.json")
            trained = retrain(found.genotype, data, replace(config.train, seed=seed))
            tested = evaluate(trained.model, data)
            metric = metric_of(tested)
            rows.append({
                "strategy": name,
                "seed": seed,
                metric: tested[metric],
                "test_nll": tested["test_nll"],
                "params": tested["params"],
                "description_length_bits": tested["description_length_bits"],
                "search_seconds": round(found.search_seconds, 3),
                "evaluations": found.evaluations,
                "train_seconds": round(trained.train_seconds, 3),
            })
            write_rows(out_dir / "compare.csv", rows)
            progress(f"[{len(rows)}/{total}] seed {seed}: {name} found {tested['params']:,} "
                     f"weights, {metric.removeprefix('test_')} {tested[metric]:.4f}, test NLL "
                     f"{tested['test_nll']:.4f}, DL {tested['description_length_bits']:,.0f} "
                     f"bits in {found.search_seconds:.1f} s of search; ETA "
                     f"{eta(len(rows), total, time.perf_counter() - started)}")
    title = f"{config.data.name}, {config.budget.describe()} per strategy"
    draw_pareto(rows, out_dir / "pareto.png", title)
    return rows


def metric_of(row: Row) -> str:
    """The test metric a row (or an evaluation) carries: accuracy, or RMSE for regression."""
    return "test_accuracy" if "test_accuracy" in row else "test_rmse"


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)  # atomic: a reader never sees half a table


def _error(row: Row) -> float:
    """Test error for classification, RMSE for regression: smaller is better for both."""
    metric = metric_of(row)
    return 1.0 - float(row[metric]) if metric == "test_accuracy" else float(row[metric])


def draw_pareto(rows: Sequence[Row], path: Path, title: str = "") -> None:
    groups: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        groups.setdefault(row["strategy"], []).append((float(row["params"]), _error(row)))
    label = "test error (1 − accuracy)" if metric_of(rows[0]) == "test_accuracy" else "test RMSE"
    plot_pareto(groups, path, label, title)


def format_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table, for the terminal."""
    metric = metric_of(rows[0])
    header = ("strategy", "seed", metric, "params", "DL (bits)", "search s", "evals")
    body = [
        (str(r["strategy"]), str(r["seed"]), f"{r[metric]:.4f}", f"{r['params']:,}",
         f"{r['description_length_bits']:,.0f}", f"{r['search_seconds']:.1f}",
         str(r["evaluations"]))
        for r in rows
    ]
    return _aligned(header, body)


SUMMARY_COLUMNS = ("params", "description_length_bits", "search_seconds", "evaluations")


def summarize(rows: Sequence[Row]) -> list[Row]:
    """Per strategy, in the order first seen: the number of seeds and the mean and sample
    standard deviation (0 for one seed) of the test metric and of every SUMMARY_COLUMNS."""
    metric = metric_of(rows[0])
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(str(row["strategy"]), []).append(row)
    summary: list[Row] = []
    for name, group in groups.items():
        entry: Row = {"strategy": name, "seeds": len(group)}
        for column in (metric, *SUMMARY_COLUMNS):
            values = [float(r[column]) for r in group]
            entry[f"{column}_mean"] = statistics.fmean(values)
            entry[f"{column}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


def format_summary(rows: Sequence[Row]) -> str:
    """``summarize`` as an aligned text table: mean ± standard deviation over seeds."""
    metric = metric_of(rows[0])
    header = ("strategy", "seeds", metric, "params", "DL (bits)", "search s", "evals")

    def pm(entry: Row, column: str, spec: str) -> str:
        return f"{entry[column + '_mean']:{spec}} ± {entry[column + '_std']:{spec}}"

    body = [
        (str(e["strategy"]), str(e["seeds"]), pm(e, metric, ".3f"), pm(e, "params", ",.0f"),
         pm(e, "description_length_bits", ",.0f"), pm(e, "search_seconds", ".1f"),
         pm(e, "evaluations", ".1f"))
        for e in summarize(rows)
    ]
    return _aligned(header, body)


def _aligned(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
             for line in (header, *body)]
    return "\n".join(lines)
