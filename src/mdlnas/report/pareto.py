"""Test error against size: one marker per strategy and the Pareto front of all points.

Drawn on a bare :class:`~matplotlib.figure.Figure` with the Agg canvas (no pyplot state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from mdlnas.search.evaluation import Point, pareto_front

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot_pareto(
    groups: Mapping[str, Sequence[Point]], path: Path, error_label: str, title: str = ""
) -> None:
    """Save the picture of ``groups`` (label -> points) to ``path``."""
    fig = Figure(figsize=(6.4, 4.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    everything: list[Point] = []
    for k, (label, points) in enumerate(groups.items()):
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.scatter(xs, ys, marker=MARKERS[k % len(MARKERS)], s=42, label=label, zorder=3)
        everything.extend(points)
    front = [everything[i] for i in pareto_front(everything)]
    if front:
        # The staircase runs on to the largest network, so that a front of one point (one
        # network both smallest and best) is still a visible line; each front point is ringed.
        largest = max(x for x, _ in everything)
        xs, ys = zip(*front, (largest, front[-1][1]), strict=True)
        ax.step(xs, ys, where="post", color="0.3", linestyle="--", linewidth=1.2,
                label="Pareto front", zorder=2)
        fx, fy = zip(*front, strict=True)
        ax.scatter(fx, fy, s=150, facecolors="none", edgecolors="0.2", linewidths=1.0, zorder=4)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
    ax.set_xlabel("parameters of the retrained network")
    ax.set_ylabel(error_label)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
