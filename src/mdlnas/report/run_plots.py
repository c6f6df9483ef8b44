"""The pictures of a run directory, drawn from its files into ``plots/``:

- ``alphas_normal.png`` (and ``alphas_reduce.png``): γ = softmax(α) of every op on every
  edge over the epochs, one panel per edge, titled with the op the genotype kept;
- ``curves.png``: training and validation loss and NLL, description length, α entropy,
  the validation metric and, after retraining, the retraining curves;
- ``cells.png``: the derived cell(s), nodes left to right, the op written on each edge;
- ``dl_per_weight.png`` (variational searches): the description length per weight of the
  frame and of every parametric op over the epochs, the epochs with α frozen (warm-up,
  calibration) shaded, so a user sees whether the prices settled before α moved.

Drawn on bare :class:`~matplotlib.figure.Figure` objects with the Agg canvas (no pyplot
state, no display); plain matplotlib, no graph-drawing dependency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mdlnas.report.run_files import (
    ALPHAS_FILE,
    DL_PREFIX,
    FRONT_FILE,
    GENOTYPE_FILE,
    METRICS_FILE,
    PLOTS_DIR,
    TRAIN_HISTORY_FILE,
    edge_label,
    read_rows,
)
from mdlnas.space.genotype import CellGenotype, Genotype

Row = Mapping[str, Any]


def draw_run_plots(run_dir: Path) -> list[Path]:
    """Draw every picture the files of ``run_dir`` allow; return the files written."""
    out = run_dir / PLOTS_DIR
    out.mkdir(exist_ok=True)
    genotype = Genotype.load(run_dir / GENOTYPE_FILE)
    written = []
    if (run_dir / ALPHAS_FILE).is_file():
        for cell, rows in _by_cell(read_rows(run_dir / ALPHAS_FILE)).items():
            kept = genotype.cells().get(cell)
            path = out / f"alphas_{cell}.png"
            plot_alphas(rows, kept, path, title=f"{cell} cell: γ = softmax(α) per edge")
            written.append(path)
    if (run_dir / METRICS_FILE).is_file():
        retraining = (read_rows(run_dir / TRAIN_HISTORY_FILE)
                      if (run_dir / TRAIN_HISTORY_FILE).is_file() else [])
        path = out / "curves.png"
        metrics = read_rows(run_dir / METRICS_FILE)
        plot_curves(metrics, retraining, path)
        written.append(path)
        if any(key.startswith(DL_PREFIX) for key in metrics[0] if metrics):
            path = out / "dl_per_weight.png"
            plot_description_length(metrics, path)
            written.append(path)
    path = out / "cells.png"
    plot_cells(genotype, path)
    written.append(path)
    if (run_dir / FRONT_FILE).is_file():
        path = out / "front.png"
        plot_front(read_rows(run_dir / FRONT_FILE), path, title=f"{run_dir.name}: the family")
        written.append(path)
    return written


# -- a family search's front -------------------------------------------------------------
def plot_front(rows: Sequence[Row], path: Path, title: str = "") -> None:
    """Validation metric against weights of every λ read off a family (the λ written at
    each point), and the test metric of the networks retrained so far."""
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    weights = [float(r["weights"]) for r in rows]
    ax.plot(weights, [float(r["val_metric"]) for r in rows], "o-", color="tab:blue",
            label="validation (supernet at λ)", zorder=3)
    labelled: set[float] = set()
    for row, x in zip(rows, weights, strict=True):
        if x not in labelled:  # one label per distinct size: equal networks overlap
            labelled.add(x)
            ax.annotate(f"λ={float(row['lam']):.2g}", (x, float(row["val_metric"])),
                        textcoords="offset points", xytext=(4, 6), fontsize=7)
    tested = [(float(r["test_weights"]), float(r["test_metric"])) for r in rows
              if _finite(r.get("test_metric"))]
    if tested:
        xs, ys = zip(*tested, strict=True)
        ax.scatter(xs, ys, marker="s", s=46, color="tab:orange", label="test, retrained",
                   zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("weights")
    ax.set_ylabel(str(rows[0].get("metric", "validation metric")) if rows else "")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)


def _finite(value: Any) -> bool:
    return isinstance(value, float | int) and np.isfinite(value)


def _by_cell(rows: Sequence[Row]) -> dict[str, list[Row]]:
    cells: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        cells[str(row["cell"])].append(row)
    return dict(cells)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# -- γ over the epochs -------------------------------------------------------------------
def plot_alphas(
    rows: Sequence[Row], kept: CellGenotype | None, path: Path, title: str = ""
) -> None:
    """One panel per edge of one cell, one line per op; ``rows`` are alphas.csv rows."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        series[str(row["edge"])][str(row["op"])].append((int(row["epoch"]), float(row["gamma"])))
    edges = list(series)
    ops = list(dict.fromkeys(op for by_op in series.values() for op in by_op))
    colors = colormaps["tab10"](np.arange(len(ops)) % 10)
    kept_ops = {edge_label(e.src, e.dst): e.op for e in kept.edges} if kept else {}
    columns = min(len(edges), 3)
    n_rows = -(-len(edges) // columns)
    fig = _new_figure(4.0 * columns, 2.6 * n_rows + 0.8)
    axes = np.atleast_1d(fig.subplots(n_rows, columns, sharex=True, sharey=True, squeeze=False))
    for ax, edge in zip(axes.flat, edges, strict=False):
        for op, color in zip(ops, colors, strict=True):
            points = sorted(series[edge].get(op, []))
            if points:
                epochs, gammas = zip(*points, strict=True)
                ax.plot(epochs, gammas, color=color, lw=1.6, label=op)
        ax.set_title(f"edge {edge}: kept {kept_ops.get(edge, 'nothing (zero)')}", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(edges):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[:, 0]:
        ax.set_ylabel("γ")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8),
               fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)


# -- curves --------------------------------------------------------------------------------
def _column(rows: Sequence[Row], key: str) -> tuple[list[float], list[float]]:
    points = [(float(r["epoch"]), float(r[key])) for r in rows if isinstance(r.get(key), float)]
    return [p[0] for p in points], [p[1] for p in points]


def _panel(ax: Axes, rows: Sequence[Row], keys: Mapping[str, str], title: str,
           ylabel: str) -> None:
    for key, label in keys.items():
        epochs, values = _column(rows, key)
        if values:
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, ms=3, label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(keys) > 1:
        ax.legend(fontsize=8)


def plot_curves(metrics: Sequence[Row], retraining: Sequence[Row], path: Path) -> None:
    """Search curves from metrics.csv rows and, if given, retraining (train_history.csv)."""
    fig = _new_figure(13.0, 7.0)
    axes = fig.subplots(2, 3)
    _panel(axes[0, 0], metrics, {"train_loss": "train", "val_loss": "validation"},
           "free energy F (NLL + λ·DL/m)", "nats per example")
    _panel(axes[0, 1], metrics, {"train_nll": "train", "val_nll": "validation"},
           "negative log-likelihood", "nats per example")
    _panel(axes[0, 2], metrics, {"description_length_bits": "DL"},
           "description length of the supernet", "bits")
    _panel(axes[1, 0], metrics, {"alpha_entropy": "H(γ)"},
           "entropy of the op distribution (mean over edges)", "nats")
    _panel(axes[1, 1], metrics, {"val_metric": "validation"},
           "validation metric (accuracy or RMSE)", "")
    if retraining:
        _panel(axes[1, 2], retraining, {"train_loss": "train loss", "val_nll": "val NLL"},
               "retraining the derived network", "nats per example")
    else:
        axes[1, 2].set_visible(False)
    fig.suptitle("search" + (" and retraining" if retraining else ""))
    fig.savefig(path, dpi=110)


def plot_description_length(metrics: Sequence[Row], path: Path) -> None:
    """Nats per weight of the frame and of each parametric op (one panel per cell type)
    over the epochs; epochs in which α was frozen are shaded."""
    labels = [key[len(DL_PREFIX):] for key in metrics[0] if key.startswith(DL_PREFIX)]
    cells = sorted({label.split(":")[0] for label in labels if ":" in label})
    fig = _new_figure(5.5 * max(1, len(cells)), 4.0)
    axes = np.atleast_1d(fig.subplots(1, max(1, len(cells))))
    frozen = [float(r["epoch"]) for r in metrics if r.get("phase") in ("warmup", "calibration")]
    for ax, cell in zip(axes, cells or ["frame"], strict=True):
        keys = {f"{DL_PREFIX}{label}": label.split(":")[-1] for label in labels
                if label.startswith(f"{cell}:") or label == "frame"}
        _panel(ax, metrics, keys, f"{cell} cell" if cells else "frame", "nats per weight")
        if frozen:
            ax.axvspan(min(frozen) - 0.5, max(frozen) + 0.5, color="0.85", zorder=0,
                       label="α frozen")
            ax.legend(fontsize=8)
    fig.suptitle("description length per weight (not weighed by γ)")
    fig.savefig(path, dpi=110)


# -- the derived cells ---------------------------------------------------------------------
def _bezier(start: np.ndarray, control: np.ndarray, end: np.ndarray) -> np.ndarray:
    t = np.linspace(0.0, 1.0, 60)[:, None]
    points: np.ndarray = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
    return points


def _draw_cell(ax: Axes, cell: CellGenotype, title: str) -> None:
    """Nodes 0 (input) .. n (output) on a line; an edge spanning one node is straight, a
    longer one an arc (above from even sources, below from odd ones, so that labels of
    overlapping arcs do not collide), higher the further it reaches."""
    n = cell.n_nodes
    live = {0, n, *cell.live_nodes()}
    lifts = [0.0]
    for edge in cell.edges:
        start, end = np.array([edge.src, 0.0]), np.array([edge.dst, 0.0])
        span = edge.dst - edge.src
        lift = 0.0 if span == 1 else 0.45 * span * (1 if edge.src % 2 == 0 else -1)
        lifts.append(lift)
        control = (start + end) / 2 + np.array([0.0, 2 * lift])  # the curve peaks at lift
        curve = _bezier(start, control, end)
        ax.plot(curve[:, 0], curve[:, 1], color="0.35", lw=1.4, zorder=1)
        ax.annotate("", xy=curve[-6], xytext=curve[-9],
                    arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1.4}, zorder=2)
        middle = curve[len(curve) // 2]
        ax.text(middle[0], middle[1] + (0.12 if lift >= 0 else -0.12), edge.op,
                ha="center", va="bottom" if lift >= 0 else "top", fontsize=9,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7"}, zorder=3)
    for node in range(n + 1):
        name = "in" if node == 0 else "out" if node == n else str(node)
        alive = node in live
        ax.scatter([node], [0.0], s=700, zorder=4, edgecolors="black",
                   c="#9ecae1" if alive else "#eeeeee", linewidths=1.2 if alive else 0.6)
        ax.text(node, 0.0, name, ha="center", va="center", fontsize=9, zorder=5,
                color="black" if alive else "0.6")
    ax.set_xlim(-0.6, n + 0.6)
    ax.set_ylim(min(lifts) - 0.7, max(lifts) + 0.7)  # room for the labels and the nodes
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def plot_cells(genotype: Genotype, path: Path) -> None:
    """The derived cell(s) of ``genotype``; a grey node has no input (it was dropped)."""
    cells = genotype.cells()
    n = genotype.space.n_nodes
    fig = _new_figure(max(4.0, 1.6 * (n + 1)), len(cells) * (0.9 * n + 0.6) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(cells), 1, squeeze=False)).flat
    for ax, (kind, cell) in zip(axes, cells.items(), strict=True):
        _draw_cell(ax, cell, f"{kind} cell ({len(cell.edges)} edges)")
    fig.suptitle(f"derived cells: space {genotype.space.name}, {genotype.space.layers} "
                 f"cell(s), {genotype.space.channels} channels", fontsize=11)
    fig.savefig(path, dpi=110)
