"""The report of a results campaign: rows → mean ± std per (dataset, method), a markdown
table with the commands under it, and a Pareto picture (test error against parameters)
per dataset. Pure functions of the rows, so they are tested without running anything."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.references import LABELS, REFERENCES
from mdlnas.search.evaluation import pareto_front  # the product's: the same front

Row = dict[str, Any]
SEARCH_METHODS = ("mdl", "darts")
SEED_PLACEHOLDER = "SEED"


# -- aggregation ------------------------------------------------------------------------
@dataclass(frozen=True)
class Stat:
    mean: float
    std: float | None  # sample std (ddof 1); None for a single value
    n: int


def mean_std(values: Iterable[float | None]) -> Stat | None:
    """Mean and sample standard deviation of the values that are not None."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    mean = math.fsum(xs) / len(xs)
    if len(xs) == 1:
        return Stat(mean, None, 1)
    var = math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    return Stat(mean, math.sqrt(var), len(xs))


@dataclass(frozen=True)
class Summary:
    dataset: str
    method: str
    label: str
    metric: str  # accuracy or rmse
    seeds: tuple[int, ...]
    stats: dict[str, Stat | None]  # by column: metric, nll, params, dl, search, train
    templates: tuple[str, ...]
    campaigns: tuple[str, ...] = field(default=())


COLUMNS = {
    "metric": None,  # test_accuracy or test_rmse
    "nll": "test_nll",
    "params": "params",
    "dl": "description_length_bits",
    "search": "search_seconds",
    "train": "train_seconds",
}


def method_label(method: str, rows: Sequence[Row]) -> str:
    if method == "mdl":
        lams = sorted({float(r["lam"]) for r in rows if r.get("lam") is not None})
        return f"mdlnas (λ = {', '.join(f'{v:g}' for v in lams) or '1'})"
    if method == "darts":
        return "DARTS (λ = 0, point weights)"
    return LABELS.get(method, method)


def _order(method: str) -> tuple[int, str]:
    fixed = [*SEARCH_METHODS, *REFERENCES]
    return (fixed.index(method) if method in fixed else len(fixed), method)


def aggregate(rows: Iterable[Row]) -> list[Summary]:
    """One summary per (dataset, method), datasets in order of appearance."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"]), []).append(row)
    datasets = list(dict.fromkeys(d for d, _ in groups))
    summaries = []
    for dataset in datasets:
        methods = sorted((m for d, m in groups if d == dataset), key=_order)
        for method in methods:
            group = sorted(groups[(dataset, method)], key=lambda r: int(r["seed"]))
            metric = group[0]["metric"]
            stats = {
                name: mean_std(r.get(key or f"test_{metric}") for r in group)
                for name, key in COLUMNS.items()
            }
            summaries.append(
                Summary(
                    dataset=dataset,
                    method=method,
                    label=method_label(method, group),
                    metric=metric,
                    seeds=tuple(int(r["seed"]) for r in group),
                    stats=stats,
                    templates=tuple(dict.fromkeys(str(r.get("template", "")) for r in group)),
                    campaigns=tuple(
                        dict.fromkeys(str(r["campaign"]) for r in group if r.get("campaign"))
                    ),
                )
            )
    return summaries


def plotted_error(row: Row) -> float:
    """1 − accuracy, or the RMSE."""
    if row["metric"] == "accuracy":
        return 1.0 - float(row["test_accuracy"])
    return float(row["test_rmse"])


# -- the report -------------------------------------------------------------------------
def _spec(mean: float, kind: str) -> str:
    """The format of a column's numbers, chosen by the size of the mean."""
    if kind == "accuracy":
        return ".3f"
    if kind in ("rmse", "nll"):
        return ".2f" if abs(mean) >= 10 else ".3f"
    if kind == "count":
        return ",.0f"
    return ".1f" if abs(mean) >= 1 else ".2f"  # seconds


def fmt_stat(stat: Stat | None, kind: str) -> str:
    """``mean ± std`` with both parts to the same decimals; ``–`` for no value."""
    if stat is None:
        return "–"
    if stat.mean == 0 and not stat.std:
        return "0"
    spec = _spec(stat.mean, kind)
    if stat.std is None:
        return format(stat.mean, spec)
    return f"{format(stat.mean, spec)} ± {format(stat.std, spec)}"


def dataset_table(summaries: Sequence[Summary]) -> list[str]:
    metric = summaries[0].metric
    head = "test accuracy ↑" if metric == "accuracy" else "test RMSE ↓"
    lines = [
        f"| method | {head} | test NLL (nats) | params | DL (bits) | search s | train s | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        st = s.stats
        cells = [
            s.label,
            fmt_stat(st["metric"], metric),
            fmt_stat(st["nll"], "nll"),
            fmt_stat(st["params"], "count"),
            fmt_stat(st["dl"], "count"),
            fmt_stat(st["search"], "seconds"),
            fmt_stat(st["train"], "seconds"),
            str(len(s.seeds)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _commands(summaries: Sequence[Summary]) -> list[str]:
    seeds = sorted({seed for s in summaries for seed in s.seeds})
    lines = [f"Commands, for `{SEED_PLACEHOLDER}` in {', '.join(map(str, seeds))}:", ""]
    for s in summaries:
        mixed = " (rows made with different settings)" if len(s.templates) > 1 else ""
        for template in s.templates:
            lines.append(f"- {s.label}{mixed}: `{template}`")
    campaigns = list(dict.fromkeys(c for s in summaries for c in s.campaigns))
    if campaigns:
        lines += ["", "Produced by:", ""] + [f"- `{c}`" for c in campaigns]
    return lines


def write_report(rows: Sequence[Row], out: Path, environment: Sequence[str] = ()) -> list[Path]:
    """Write ``table.md`` and one Pareto picture per dataset; returns the files written."""
    summaries = aggregate(rows)
    datasets = list(dict.fromkeys(s.dataset for s in summaries))
    lines = [
        "# Results campaign",
        "",
        "Generated by `benchmarks/results.py` from `rows.jsonl`. Mean ± sample standard "
        "deviation over seeds (one value when there is one seed); accuracy or RMSE in the "
        "target's units on the held-out test part, scored once; params = trained weights "
        "(posterior means for variational networks); DL = description length of the "
        "retrained network (– for point weights and reference models); times in seconds.",
    ]
    if environment:
        lines += ["", "Measured on: " + "; ".join(environment) + "."]
    written = []
    for dataset in datasets:
        group = [s for s in summaries if s.dataset == dataset]
        picture = plot_pareto(dataset, [r for r in rows if r["dataset"] == dataset], group, out)
        written.append(picture)
        lines += ["", f"## {dataset}", "", *dataset_table(group), "", *_commands(group)]
        lines += ["", f"![{dataset}: test error against parameters]({picture.name})"]
    table = out / "table.md"
    table.write_text("\n".join(lines) + "\n")
    return [table, *written]


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_pareto(
    dataset: str, rows: Sequence[Row], summaries: Sequence[Summary], out: Path
) -> Path:
    """Test error against parameters (log scale): every seed a small point, the mean a
    large one, and the Pareto front over all points as a step line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    points: list[tuple[float, float]] = []
    for i, s in enumerate(summaries):
        group = [r for r in rows if r["method"] == s.method]
        xs = [float(r["params"]) for r in group]
        ys = [plotted_error(r) for r in group]
        points += list(zip(xs, ys, strict=True))
        marker, color = MARKERS[i % len(MARKERS)], f"C{i}"
        ax.scatter(xs, ys, s=28, alpha=0.5, linewidths=0, marker=marker, color=color)
        ax.scatter(
            [sum(xs) / len(xs)], [sum(ys) / len(ys)], s=130, marker=marker, color=color,
            edgecolors="black", label=f"{s.label} (mean of {len(group)})",
        )  # fmt: skip
    front = [points[i] for i in pareto_front(points)]
    # Carried on to the largest network, so that a front of one point is visible too.
    front.append((max(p[0] for p in points), front[-1][1]))
    ax.step(
        [p[0] for p in front], [p[1] for p in front], where="post", color="0.35",
        linestyle="--", linewidth=1.2, label="Pareto front (all runs)",
    )  # fmt: skip
    metric = summaries[0].metric
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test error (1 − accuracy)" if metric == "accuracy" else "test RMSE")
    ax.set_title(f"{dataset}: test error against size (small: one seed; large: mean)")
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes, so that it never hides a point.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    path = out / f"pareto_{dataset}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
