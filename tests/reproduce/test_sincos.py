"""The seed's sin/cos experiment (docs/METHOD.md, "The seed's experiment"), run with its
default settings.

The default run takes about a second of descent, so the acceptance checks run it as is:
every ξ must recover α and w within 10 %, and ξ must visibly change the path. The
hypergradient on this model is checked against a finite difference of the unrolled
validation loss written out by hand in numpy, independent of torch and of the library.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mdlnas.errors import ConfigError, SearchError
from mdlnas.reproduce.sincos import (
    SincosConfig,
    descend,
    make_data,
    mse_objective,
    run_sincos,
)
from mdlnas.search.hypergradient import hypergradient

DEFAULT = SincosConfig()
FILES = ("summary.json", "trajectories.csv", "trajectories.png")


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sincos")
    messages: list[str] = []
    started = time.perf_counter()
    returned = run_sincos(DEFAULT, out, progress=messages.append)
    seconds = time.perf_counter() - started
    with (out / "trajectories.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return {
        "out": out,
        "returned": returned,
        "summary": json.loads((out / "summary.json").read_text(encoding="utf-8")),
        "header": rows[0],
        "rows": rows[1:],
        "messages": messages,
        "seconds": seconds,
    }


def _paths(rows: list[list[str]]) -> dict[float, np.ndarray]:
    """ξ → (steps + 1, 4) array of α0, α1, w0, w1, ordered by step."""
    by_xi: dict[float, list[tuple[int, list[float]]]] = {}
    for row in rows:
        by_xi.setdefault(float(row[0]), []).append((int(row[1]), [float(v) for v in row[2:6]]))
    return {xi: np.array([p for _, p in sorted(items)]) for xi, items in by_xi.items()}


# --- the default run ---------------------------------------------------------------------


def test_default_run_writes_its_three_files_quickly(default_run: dict[str, Any]) -> None:
    for name in FILES:
        path: Path = default_run["out"] / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert (default_run["out"] / "trajectories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The acceptance asks for well under two minutes on two cores; it takes seconds.
    assert default_run["seconds"] < 100


def test_summary_has_the_schema(default_run: dict[str, Any]) -> None:
    summary = default_run["summary"]
    assert summary == json.loads(json.dumps(default_run["returned"]))
    assert summary["truth"] == {"alpha": [1.5, 1.0], "w": [3.0, 7.0]}
    assert [run["xi"] for run in summary["runs"]] == list(DEFAULT.xis)
    assert len(DEFAULT.xis) >= 3 and 0.0 in DEFAULT.xis
    for run in summary["runs"]:
        assert {"xi", "alpha", "w", "val_loss", "steps"} <= set(run)
        assert len(run["alpha"]) == 2 and len(run["w"]) == 2
        assert all(isinstance(v, float) for v in (*run["alpha"], *run["w"], run["val_loss"]))
        assert isinstance(run["steps"], int) and 0 < run["steps"] <= DEFAULT.max_steps
        # "while the weights change": the stopping rule ended the run, not the bound
        assert run["converged"] is True
        # the noise floor is σ² = 0.01: a fitted model sits near it, not far above
        assert run["val_loss"] < 0.015


def test_every_xi_recovers_the_truth_within_ten_percent(default_run: dict[str, Any]) -> None:
    summary = default_run["summary"]
    truth = np.array([*summary["truth"]["alpha"], *summary["truth"]["w"]])
    for run in summary["runs"]:
        found = np.array([*run["alpha"], *run["w"]])
        relative = np.abs(found - truth) / np.abs(truth)
        assert np.all(relative < 0.10), (run["xi"], found, relative)


def test_csv_holds_every_step_of_every_xi(default_run: dict[str, Any]) -> None:
    assert default_run["header"] == [
        "xi", "step", "alpha0", "alpha1", "w0", "w1", "train_loss", "val_loss"
    ]  # fmt: skip
    paths = _paths(default_run["rows"])
    runs = {run["xi"]: run for run in default_run["summary"]["runs"]}
    assert set(paths) == set(runs)
    start = np.array([*DEFAULT.start_alpha, *DEFAULT.start_w])
    for xi, run in runs.items():
        steps = sorted(int(r[1]) for r in default_run["rows"] if float(r[0]) == xi)
        assert steps == list(range(run["steps"] + 1))  # row 0 is the start
        np.testing.assert_allclose(paths[xi][0], start)  # every ξ starts from one point
        np.testing.assert_allclose(paths[xi][-1], [*run["alpha"], *run["w"]], rtol=1e-12)
    for row in default_run["rows"]:
        assert np.isfinite([float(v) for v in row[6:]]).all()


def test_xi_changes_the_path(default_run: dict[str, Any]) -> None:
    paths = _paths(default_run["rows"])
    first, last = paths[0.0], paths[max(paths)]
    n = min(len(first), len(last))
    gap = np.abs(first[:n] - last[:n]).max(axis=0)
    # Measured: about 0.5 in α and 0.8 in w between ξ = 0 and ξ = 1; demand a visible gap.
    assert gap[:2].max() > 0.1 and gap[2:].max() > 0.1, gap


def test_progress_reports_one_line_per_xi(default_run: dict[str, Any]) -> None:
    messages = default_run["messages"]
    for xi in DEFAULT.xis:
        assert any(m.startswith(f"xi={xi:g}:") for m in messages), messages
    assert all("\n" not in m for m in messages)


# --- the hypergradient on this model, against an independent computation ----------------


def _unrolled_val_loss(alpha: np.ndarray, w: np.ndarray, xi: float, data: Any) -> float:
    """``L_val(w − ξ ∇_w L_train(w, α), α)`` with ``∇_w L_train`` derived by hand."""
    x, y = data.x_train, data.y_train
    residual = alpha[0] * np.sin(w[0] * x) + alpha[1] * np.cos(w[1] * x) - y
    grad_w = np.array(
        [
            np.mean(2 * residual * alpha[0] * x * np.cos(w[0] * x)),
            np.mean(-2 * residual * alpha[1] * x * np.sin(w[1] * x)),
        ]
    )
    w_prime = w - xi * grad_w
    val = alpha[0] * np.sin(w_prime[0] * data.x_val) + alpha[1] * np.cos(w_prime[1] * data.x_val)
    return float(np.mean((val - data.y_val) ** 2))


def _finite_difference(alpha: np.ndarray, w: np.ndarray, xi: float, data: Any) -> np.ndarray:
    h = 1e-6
    grad = np.zeros(2)
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        up = _unrolled_val_loss(alpha + step, w, xi, data)
        down = _unrolled_val_loss(alpha - step, w, xi, data)
        grad[i] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize(("xi", "method", "rtol"), [(0.3, "exact", 1e-6), (1.0, "exact", 1e-6),
                                                    (1.0, "fd", 1e-4)])  # fmt: skip
def test_hypergradient_matches_finite_difference_of_the_unrolled_loss(
    xi: float, method: str, rtol: float
) -> None:
    data = make_data(DEFAULT)
    # at the start the weights are far from optimal, so the ξ term is large
    alpha, w = np.array(DEFAULT.start_alpha), np.array(DEFAULT.start_w)
    (library,) = hypergradient(
        mse_objective(data.x_train, data.y_train),
        mse_objective(data.x_val, data.y_val),
        [torch.tensor(w, dtype=torch.float64)],
        [torch.tensor(alpha, dtype=torch.float64)],
        xi,
        method,
    )
    expected = _finite_difference(alpha, w, xi, data)
    np.testing.assert_allclose(library.numpy(), expected, rtol=rtol, atol=1e-9)
    # the check means something only if the second-order term is far above the tolerance
    first_order = _finite_difference(alpha, w, 0.0, data)
    assert np.abs(expected - first_order).max() > 1e3 * rtol * np.abs(expected).max()


# --- settings and failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"xis": ()},
        {"xis": (0.0, -0.1)},
        {"xis": (0.0, 0.0, 1.0)},
        {"xis": (0.0, float("nan"))},
        {"lr_alpha": 0.0},
        {"lr_w": float("inf")},
        {"n_train": 1},
        {"max_steps": 0},
        {"seed": -1},
        {"tol": -1e-6},
        {"noise_std": -0.1},
        {"method": "newton"},
        {"true_w": (3.0,)},
        {"start_alpha": (0.2, float("nan"))},
        {"xis": "0,0.1,1"},
        {"seed": 1.5},
        {"patience": True},
    ],
)
def test_bad_settings_raise_config_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        SincosConfig(**bad)


def test_cli_style_overrides_are_coerced() -> None:
    config = SincosConfig(xis=[0, 0.5, 2], seed=3, true_alpha=[1, 2])  # type: ignore[arg-type]
    assert config.xis == (0.0, 0.5, 2.0) and config.true_alpha == (1.0, 2.0)
    assert config.seed == 3
    assert SincosConfig(seed=np.int64(4)).seed == 4  # type: ignore[arg-type]


def test_a_diverging_run_raises_search_error() -> None:
    config = SincosConfig(lr_alpha=10.0, max_steps=500)
    with pytest.raises(SearchError, match="diverged"):
        descend(config, make_data(config), 0.0)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b = make_data(SincosConfig(seed=1)), make_data(SincosConfig(seed=1))
    c = make_data(SincosConfig(seed=2))
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_val, c.y_val)
