"""The seed's experiment (docs/METHOD.md): descent trajectories of the ξ-bilevel method on
``y = α0 sin(w0 x) + α1 cos(w1 x) + N(0, 0.1²)``, ``x ~ U[0, 1]``.

``w = (w0, w1)`` are the model's weights and ``α = (α0, α1)`` its architecture parameters:
the raw mixing coefficients of the two candidate ops, as in the seed (no softmax, which
could not represent a truth such as ``α = (1.5, 1.0)``). Weights are deterministic.

Loss: the mean squared error on a split. The Gaussian NLL with the known σ = 0.1 is
``MSE / (2σ²) + const``, so it would give the same trajectories with learning rates
scaled by ``2σ²``; the MSE keeps the learning rates readable.

Algorithm, exactly the seed's, for every ξ from the same starting point:

    while the weights change (ChangeMonitor, bounded by max_steps):
        1. α ← α − lr_α · ∇_α L_val(w − ξ ∇_w L_train(w, α), α)   (full batch D_val)
        2. w ← w − lr_w · ∇_w L_train(w, α)                        (full batch D_train)

The hypergradient is the search's (:func:`mdlnas.search.hypergradient.hypergradient`);
nothing here re-derives it. The tests run it also with the method's plain reference
(:func:`mdlnas.search.method.hypergradient`) and get the same path.

Default settings, and why:
- truth ``α = (1.5, 1.0)``, ``w = (3, 7)``: the two ops are well separated on [0, 1]
  (Hessian condition number ≈ 10 at the truth), so 300 + 300 points pin every component
  down to a few per cent (all 12 seeds 0–11 tried: worst component 6 %). Lower, closer
  frequencies such as ``(3, 5)`` or ``(2, 4)`` are nearly collinear on [0, 1]: there the
  least-squares fit itself misses by up to 7 % or 20 % depending on the seed.
- start ``α = (0.2, 2.0)``, ``w = (1.5, 5.0)``: far enough that the transient is long and
  the ξ-term, which is proportional to ``∇_w L_train``, bends the paths visibly, but inside
  the truth's basin of the (non-convex, because of the frequencies) landscape in ``w``.
  A start beyond the next ridge (``w = (1.5, 8.5)``, ``α = (2.5, 0.2)``) is instructive
  but no reproduction: ξ = 0 never settles, ξ = 0.3 converges to a wrong point, and only
  ξ ≥ 1 finds the truth.
- ``ξ ∈ {0, 0.1, 0.3, 1}``: ``ξ · λ_max(∇²_w L_train) ≤ 0.98`` along every default
  path (measured), so the unrolled step is a stable descent step; ξ = 0.01 would draw
  on top of ξ = 0. Larger ξ overshoots: ξ = 2 and 3 still recover the truth, ξ = 5
  leaves the basin (w0 runs off to about −22).
- ``lr_α = lr_w = 0.3``: stable for every ξ above; each run stops after 180–300 steps
  (``tol = 1e-6``, ``patience = 10``), about 0.3 s each on one CPU core.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from mdlnas.config import HypergradientMethod
from mdlnas.errors import ConfigError, SearchError
from mdlnas.report.progress import eta
from mdlnas.report.sincos_plot import Landscape, plot_sincos
from mdlnas.search import hypergradient as fast
from mdlnas.search.method import (
    ChangeMonitor,
    HyperGradient,
    Objective,
    relative_change,
)

Pair = tuple[float, float]
Array = NDArray[np.float64]

# float64 throughout: the problem is tiny, and the stopping rule and the hypergradient
# check in the tests resolve changes far below float32's precision.
DTYPE = torch.float64
CSV_HEADER = ("xi", "step", "alpha0", "alpha1", "w0", "w1", "train_loss", "val_loss")


def _floats(name: str, value: Sequence[float]) -> tuple[float, ...]:
    # A str is a sequence too: refuse it rather than read "0,1" character by character.
    try:
        if isinstance(value, str):
            raise TypeError
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a sequence of numbers, got {value!r}") from None


def _pair(name: str, value: Sequence[float]) -> Pair:
    values = _floats(name, value)
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{name} must be two finite numbers, got {value!r}")
    return values[0], values[1]


def _integer(name: str, value: object, low: int) -> int:
    # bool is an Integral too, but True steps or seed=False is surely a mistake
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be an integer of at least {low}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SincosConfig:
    """Settings of the sin/cos reproduction; see the module docstring for the defaults.

    ``tol`` / ``patience``: a run stops when the relative change of both ``w`` and ``α``
    per step stayed below ``tol`` for ``patience`` steps in a row ("while the weights
    change"); ``max_steps`` bounds it. ``xis`` and ``seed`` are what the CLI overrides.
    """

    true_alpha: Pair = (1.5, 1.0)
    true_w: Pair = (3.0, 7.0)
    start_alpha: Pair = (0.2, 2.0)
    start_w: Pair = (1.5, 5.0)
    noise_std: float = 0.1
    n_train: int = 300
    n_val: int = 300
    lr_alpha: float = 0.3
    lr_w: float = 0.3
    xis: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)
    max_steps: int = 5000
    tol: float = 1e-6
    patience: int = 10
    seed: int = 0
    method: HypergradientMethod = "exact"

    def __post_init__(self) -> None:
        # Coerce lists (from JSON, TOML or a CLI parser) to the tuples the type promises.
        for name in ("true_alpha", "true_w", "start_alpha", "start_w"):
            object.__setattr__(self, name, _pair(name, getattr(self, name)))
        xis = _floats("xis", self.xis)
        object.__setattr__(self, "xis", xis)
        if not xis:
            raise ConfigError("xis must hold at least one value, e.g. 0,0.1,0.3,1")
        if any(not (math.isfinite(x) and x >= 0) for x in xis):
            raise ConfigError(f"every xi must be finite and zero or positive, got {xis}")
        if len(set(xis)) != len(xis):
            raise ConfigError(f"xis must be distinct (one trajectory each), got {xis}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ConfigError(f"noise_std must be zero or positive, got {self.noise_std}")
        for name in ("lr_alpha", "lr_w", "tol"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number, got {value}")
        for name, low in (
            ("n_train", 2),
            ("n_val", 2),
            ("max_steps", 1),
            ("patience", 1),
            ("seed", 0),
        ):
            object.__setattr__(self, name, _integer(name, getattr(self, name), low))
        if self.method not in ("exact", "fd"):
            raise ConfigError(f"method must be 'exact' or 'fd', got {self.method!r}")


# --- data and model ---------------------------------------------------------------------


@dataclass(frozen=True)
class SincosData:
    """The two splits of the seed's sample, as float64 numpy arrays of shape ``(n,)``."""

    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array


def target(x: Array, alpha: Pair, w: Pair) -> Array:
    """The noise-free ``α0 sin(w0 x) + α1 cos(w1 x)``."""
    return alpha[0] * np.sin(w[0] * x) + alpha[1] * np.cos(w[1] * x)


def make_data(config: SincosConfig) -> SincosData:
    """Draw ``D_train`` and ``D_val`` from one generator seeded by ``config.seed``."""
    rng = np.random.default_rng(config.seed)

    def sample(n: int) -> tuple[Array, Array]:
        x = rng.uniform(0.0, 1.0, n)
        y = target(x, config.true_alpha, config.true_w) + rng.normal(0.0, config.noise_std, n)
        return x, y

    x_train, y_train = sample(config.n_train)
    x_val, y_val = sample(config.n_val)
    return SincosData(x_train, y_train, x_val, y_val)


def predict(x: Tensor, w: Tensor, alpha: Tensor) -> Tensor:
    """``f(x) = α0 sin(w0 x) + α1 cos(w1 x)`` for ``x`` of shape ``(n,)``, ``w, α`` of ``(2,)``."""
    return alpha[0] * torch.sin(w[0] * x) + alpha[1] * torch.cos(w[1] * x)


def mse_objective(x: Array, y: Array) -> Objective:
    """``L(w, α)`` on one split, in the ``([w], [α])`` form the hypergradient takes."""
    xt, yt = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)

    def objective(weights: Sequence[Tensor], alphas: Sequence[Tensor]) -> Tensor:
        return ((predict(xt, weights[0], alphas[0]) - yt) ** 2).mean()

    return objective


# --- the bilevel descent ----------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """One ξ's path. ``points`` is ``(steps + 1, 4)``: ``α0, α1, w0, w1`` from the start
    (row 0) to the last step; ``train_loss`` / ``val_loss`` are ``(steps + 1,)``."""

    xi: float
    points: Array
    train_loss: Array
    val_loss: Array
    converged: bool

    @property
    def steps(self) -> int:
        return len(self.points) - 1


def descend(config: SincosConfig, data: SincosData, xi: float,
            hypergradient: HyperGradient | None = None) -> Trajectory:
    """Run the seed's algorithm for one ξ from ``config``'s starting point, with the
    search's hypergradient (``config.method``) unless another is given."""

    step_alpha = hypergradient or fast.fast_hypergradient(config.method)
    f_train = mse_objective(data.x_train, data.y_train)
    f_val = mse_objective(data.x_val, data.y_val)
    alpha = torch.tensor(config.start_alpha, dtype=DTYPE)
    w = torch.tensor(config.start_w, dtype=DTYPE)
    monitor = ChangeMonitor(config.tol, config.patience)
    points: list[list[float]] = []
    train_losses: list[float] = []
    val_losses: list[float] = []

    def record() -> None:
        with torch.no_grad():
            points.append([*alpha.tolist(), *w.tolist()])
            train_losses.append(float(f_train([w], [alpha])))
            val_losses.append(float(f_val([w], [alpha])))

    record()
    converged = False
    for _ in range(config.max_steps):
        # 1. architecture step along the ξ-hypergradient on D_val
        (g_alpha,) = step_alpha(f_train, f_val, [w], [alpha], xi)
        new_alpha = alpha - config.lr_alpha * g_alpha
        # 2. weight step on D_train, at the architecture just updated (the seed's order)
        w_leaf = w.detach().requires_grad_(True)
        (g_w,) = torch.autograd.grad(f_train([w_leaf], [new_alpha]), [w_leaf])
        new_w = w - config.lr_w * g_w
        done = monitor.update(relative_change(w, new_w), relative_change(alpha, new_alpha))
        alpha, w = new_alpha.detach(), new_w.detach()
        record()
        if not all(math.isfinite(v) for v in (*points[-1], val_losses[-1])):
            raise SearchError(
                f"the xi={xi} run diverged at step {len(points) - 1}; "
                "lower lr_alpha / lr_w or use a smaller xi"
            )
        if done:
            converged = True
            break
    return Trajectory(xi, np.array(points), np.array(train_losses), np.array(val_losses), converged)


# --- loss landscapes for the figure ------------------------------------------------------


def alpha_landscape(data: SincosData, w: Pair, a0: Array, a1: Array) -> Array:
    """Validation MSE on the grid ``a0 × a1`` at fixed ``w``; ``(len(a1), len(a0))``.

    The model is linear in α, so the MSE is a quadratic form in the split's moments."""
    s, c, y = np.sin(w[0] * data.x_val), np.cos(w[1] * data.x_val), data.y_val
    A0, A1 = np.meshgrid(a0, a1)
    loss = (
        A0**2 * np.mean(s * s)
        + A1**2 * np.mean(c * c)
        + 2 * A0 * A1 * np.mean(s * c)
        - 2 * A0 * np.mean(s * y)
        - 2 * A1 * np.mean(c * y)
        + np.mean(y * y)
    )
    return np.asarray(loss)


def w_landscape(data: SincosData, alpha: Pair, w0: Array, w1: Array) -> Array:
    """Validation MSE on the grid ``w0 × w1`` at fixed ``α``; ``(len(w1), len(w0))``.

    Expanded so that only ``(grid, n)`` matrices are built, never ``(grid, grid, n)``."""
    x, y, n = data.x_val, data.y_val, len(data.x_val)
    S = alpha[0] * np.sin(np.outer(w0, x))  # (G0, n)
    C = alpha[1] * np.cos(np.outer(w1, x))  # (G1, n)
    loss = (
        np.mean(S * S, axis=1)[None, :]
        + np.mean(C * C, axis=1)[:, None]
        + 2 * (C @ S.T) / n
        - 2 * (S @ y)[None, :] / n
        - 2 * (C @ y)[:, None] / n
        + np.mean(y * y)
    )
    return np.asarray(loss)


def _span(values: Array, margin: float = 0.15, size: int = 201) -> Array:
    low, high = float(np.min(values)), float(np.max(values))  # numpy 2.5's stubs: not .min()
    pad = margin * max(high - low, 1e-3)
    return np.linspace(low - pad, high + pad, size)


# --- the whole experiment ----------------------------------------------------------------


def _relative_errors(estimate: Sequence[float], truth: Pair) -> list[float | None]:
    # A zero true component has no relative error; report None rather than inf.
    return [abs(e - t) / abs(t) if t != 0 else None for e, t in zip(estimate, truth, strict=True)]


def run_sincos(
    config: SincosConfig,
    out_dir: str | Path,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every ξ of ``config`` and write ``summary.json``, ``trajectories.csv`` and
    ``trajectories.png`` into ``out_dir`` (created if missing). Returns the summary.

    Steps are counted from the start: a run of ``steps`` steps has CSV rows
    ``step = 0 .. steps``, row 0 being the common starting point.
    """
    say = progress or (lambda message: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = make_data(config)
    trajectories: list[Trajectory] = []
    started = time.perf_counter()
    for done, xi in enumerate(config.xis, start=1):
        run_started = time.perf_counter()
        trajectory = descend(config, data, xi)
        trajectories.append(trajectory)
        a0, a1, w0, w1 = trajectory.points[-1]
        say(
            f"xi={xi:g}: {trajectory.steps} steps"
            f"{'' if trajectory.converged else ' (max_steps, not converged)'}, "
            f"alpha=({a0:.4f}, {a1:.4f}), w=({w0:.4f}, {w1:.4f}), "
            f"val_loss={trajectory.val_loss[-1]:.5f} "
            f"[{time.perf_counter() - run_started:.2f}s; {done}/{len(config.xis)} ξ, ETA "
            f"{eta(done, len(config.xis), time.perf_counter() - started)}]"
        )

    summary = _summary(config, trajectories, time.perf_counter() - started)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _write_csv(out / "trajectories.csv", trajectories)
    _draw(config, data, trajectories, out / "trajectories.png")
    say(f"wrote {out / 'summary.json'}, {out / 'trajectories.csv'}, {out / 'trajectories.png'}")
    return summary


def _summary(
    config: SincosConfig, trajectories: Sequence[Trajectory], seconds: float
) -> dict[str, Any]:
    runs = []
    for t in trajectories:
        alpha, w = t.points[-1, :2].tolist(), t.points[-1, 2:].tolist()
        runs.append(
            {
                "xi": t.xi,
                "alpha": alpha,
                "w": w,
                "val_loss": float(t.val_loss[-1]),
                "train_loss": float(t.train_loss[-1]),
                "steps": t.steps,
                "converged": t.converged,
                "relative_error": {
                    "alpha": _relative_errors(alpha, config.true_alpha),
                    "w": _relative_errors(w, config.true_w),
                },
            }
        )
    return {
        "truth": {"alpha": list(config.true_alpha), "w": list(config.true_w)},
        "start": {"alpha": list(config.start_alpha), "w": list(config.start_w)},
        "loss": "mean squared error",
        "runs": runs,
        "seconds": round(seconds, 3),
        "config": asdict(config),
    }


def _write_csv(path: Path, trajectories: Sequence[Trajectory]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for t in trajectories:
            # .tolist() gives Python floats, whose repr is the shortest exact round trip
            rows = np.column_stack([t.points, t.train_loss, t.val_loss]).tolist()
            for step, values in enumerate(rows):
                writer.writerow([repr(t.xi), step, *map(repr, values)])


def _draw(
    config: SincosConfig, data: SincosData, trajectories: Sequence[Trajectory], path: Path
) -> None:
    every = np.concatenate([t.points for t in trajectories])
    truth = np.array([*config.true_alpha, *config.true_w])
    a0, a1 = _span(np.r_[every[:, 0], truth[0]]), _span(np.r_[every[:, 1], truth[1]])
    # A wider window in w shows the neighbouring basins: the landscape is not convex there.
    w0 = _span(np.r_[every[:, 2], truth[2]], margin=0.6)
    w1 = _span(np.r_[every[:, 3], truth[3]], margin=0.6)
    # The α landscape is drawn at the true w and the w landscape at the true α: both fixed,
    # so the contours do not depend on which run one looks at.
    plot_sincos(
        alpha_panel=Landscape(a0, a1, alpha_landscape(data, config.true_w, a0, a1)),
        w_panel=Landscape(w0, w1, w_landscape(data, config.true_alpha, w0, w1)),
        paths={t.xi: t.points for t in trajectories},
        start=(*config.start_alpha, *config.start_w),
        truth=(*config.true_alpha, *config.true_w),
        path=path,
    )
