"""The figure of the seed's sin/cos experiment: descent paths over the loss landscape.

Two panels, (α0, α1) and (w0, w1), each with the validation loss as filled log-spaced
contours, one coloured path per ξ, the common start (circle) and the truth (star).
It takes plain arrays, so it knows nothing of the model that produced them.

Drawn on a bare :class:`~matplotlib.figure.Figure` with the Agg canvas: no pyplot, no
global state, no display needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, LogNorm
from matplotlib.figure import Figure
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Landscape:
    """A loss surface on a grid: ``z[i, j]`` is the loss at ``(x[j], y[i])``."""

    x: Array
    y: Array
    z: Array


def _draw_landscape(ax: Axes, fig: Figure, land: Landscape, label: str) -> None:
    z = np.maximum(land.z, 1e-12)  # log levels need positive values
    # Geometric levels: the interesting part is the floor near the truth, which linear
    # levels would squash into a single band.
    levels = np.geomspace(z.min(), z.max(), 18)
    # Grey ground so that the coloured paths carry all the colour; darker is lower.
    cmap = LinearSegmentedColormap.from_list("ground", ["#5a5a5a", "#f7f7f7"])
    filled = ax.contourf(land.x, land.y, z, levels=levels, norm=LogNorm(), cmap=cmap)
    ax.contour(land.x, land.y, z, levels=levels, colors="white", linewidths=0.4, alpha=0.7)
    bar = fig.colorbar(filled, ax=ax, fraction=0.046, pad=0.03)
    ticks = levels[::3].tolist()
    bar.set_ticks(ticks, labels=[f"{v:.2g}" for v in ticks])
    bar.set_label(label)
    bar.ax.tick_params(labelsize=8)


def _draw_paths(
    ax: Axes,
    paths: Mapping[float, Array],
    columns: tuple[int, int],
    start: Sequence[float],
    truth: Sequence[float],
) -> None:
    i, j = columns
    # One ordered colour scale over ξ, so that "more ξ" reads as "further along the scale".
    ordered = sorted(paths.items())
    colors = colormaps["plasma"](np.linspace(0.0, 0.78, len(ordered)))
    for (xi, points), color in zip(ordered, colors, strict=True):
        name = f"ξ = {xi:g}" + (" (first order)" if xi == 0 else "")
        ax.plot(points[:, i], points[:, j], color=color, lw=1.8, label=name, zorder=3)
        ax.plot(
            points[-1, i], points[-1, j], "o", color=color, ms=4, mec="black", mew=0.5, zorder=4
        )
    ax.plot(
        start[i], start[j], "o", ms=9, mfc="white", mec="black", mew=1.5, zorder=5, label="start"
    )
    ax.plot(
        truth[i], truth[j], "*", ms=17, mfc="gold", mec="black", mew=1.0, zorder=6, label="truth"
    )


def plot_sincos(
    *,
    alpha_panel: Landscape,
    w_panel: Landscape,
    paths: Mapping[float, Array],
    start: Sequence[float],
    truth: Sequence[float],
    path: str | Path,
) -> None:
    """Write the two-panel figure to ``path`` (PNG, 150 dpi).

    ``paths`` maps ξ to ``(steps + 1, 4)`` arrays of ``α0, α1, w0, w1``; ``start`` and
    ``truth`` are those four numbers. ``alpha_panel`` is the validation loss over α at the
    true w, ``w_panel`` over w at the true α (as the panel titles say).
    """
    fig = Figure(figsize=(12.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    _draw_landscape(left, fig, alpha_panel, "validation MSE")
    _draw_paths(left, paths, (0, 1), start, truth)
    left.set(
        xlabel=r"$\alpha_0$  (weight of $\sin$)",
        ylabel=r"$\alpha_1$  (weight of $\cos$)",
        title=r"(a) architecture $\alpha$ over $\mathcal{L}_{val}(w^{true}, \alpha)$",
    )
    _draw_landscape(right, fig, w_panel, "validation MSE")
    _draw_paths(right, paths, (2, 3), start, truth)
    right.set(
        xlabel=r"$w_0$  (frequency of $\sin$)",
        ylabel=r"$w_1$  (frequency of $\cos$)",
        title=r"(b) weights $w$ over $\mathcal{L}_{val}(w, \alpha^{true})$",
    )
    for ax in (left, right):
        ax.set_xlim(ax.get_xlim())  # keep the landscape's extent after the markers
    handles, labels = left.get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9, frameon=False
    )
    fig.suptitle(
        r"Descent trajectories for several $\xi$: "
        r"$y = \alpha_0 \sin(w_0 x) + \alpha_1 \cos(w_1 x) + \mathcal{N}(0, 0.1^2)$, "
        r"$x \sim U[0, 1]$",
        fontsize=12,
    )
    fig.savefig(path, dpi=150)
