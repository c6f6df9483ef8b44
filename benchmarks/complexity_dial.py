"""λ as a dial: one search per complexity weight λ (and per seed), each retrained and
tested by the product itself, next to plain DARTS on the same space.

Every run is an ordinary ``mdlnas search`` (search, retrain, one test) in its own run
directory under ``--out``; runs already finished there are not repeated, so an interrupted
campaign continues where it stopped. The table ``dial.csv`` has one row per run (λ, seed,
weights, test and validation accuracy, search seconds) and ``dial.png`` draws test accuracy
against weights, mean over seeds per λ, with plain DARTS and any reference points given by
``--reference NAME:WEIGHTS:ACCURACY`` (e.g. a hand design measured elsewhere).

    python benchmarks/complexity_dial.py --data mnist1d --lams 0.01,0.1,1 --seeds 0,1,2 \\
        --out docs/results/dial-mnist1d --jobs 2 -- --channels 8 --growth 1 --calibrate 8

Everything after ``--`` is passed to every ``mdlnas search`` (the preset); the DARTS run
gets the same options with ``--lam 0 --deterministic`` and without calibration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mdlnas.report.run_files import write_rows

DARTS = "darts"


def _run_dir(out: Path, lam: str, seed: int) -> Path:
    return out / f"lam{lam}-seed{seed}"


def _search(out: Path, data: str, lam: str, seed: int, preset: list[str]) -> dict[str, Any]:
    run_dir = _run_dir(out, lam, seed)
    eval_file = run_dir / "eval.json"
    if not eval_file.is_file():
        options = list(preset)
        if lam == DARTS:
            options = [*_without(options, "--calibrate"), "--lam", "0", "--deterministic",
                       "--train-deterministic"]
        else:
            options += ["--lam", lam]
        command = [sys.executable, "-m", "mdlnas", "search", "--data", data, "--seed",
                   str(seed), "--out", str(run_dir), "--no-plots", "--quiet", *options]
        if (run_dir / "checkpoints" / "search.pt").is_file():
            command = [sys.executable, "-m", "mdlnas", "search", "--resume", str(run_dir),
                       "--quiet"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core per run, --jobs at once
        subprocess.run(command, check=True, env=env)
    evaluation = json.loads(eval_file.read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        "lam": lam, "seed": seed, "weights": evaluation["params"],
        "test_accuracy": evaluation.get("test_accuracy", float("nan")),
        "val_accuracy_supernet": summary.get("val_metric", float("nan")),
        "search_seconds": summary.get("search_seconds", float("nan")),
        "epochs_run": summary.get("epochs_run"), "run_dir": str(run_dir),
    }


def _without(options: list[str], flag: str) -> list[str]:
    """``options`` without ``flag`` and its value."""
    out, skip = [], False
    for item in options:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        else:
            out.append(item)
    return out


def _plot(rows: list[dict[str, Any]], references: list[tuple[str, int, float]],
          path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    by_lam: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_lam.setdefault(row["lam"], []).append(row)
    points = []
    for lam, group in by_lam.items():
        weights = statistics.mean(r["weights"] for r in group)
        accuracy = statistics.mean(r["test_accuracy"] for r in group)
        points.append((lam, weights, accuracy))
        for r in group:
            ax.scatter(r["weights"], r["test_accuracy"], s=10, color="0.6", zorder=2)
    dial = sorted((p for p in points if p[0] != DARTS), key=lambda p: -float(p[0]))
    ax.plot([p[1] for p in dial], [p[2] for p in dial], "o-", color="tab:blue", zorder=3,
            label="mdlnas, mean over seeds (λ at each point)")
    for lam, weights, accuracy in dial:
        ax.annotate(f"λ={lam}", (weights, accuracy), textcoords="offset points",
                    xytext=(4, -10), fontsize=8)
    for lam, weights, accuracy in points:
        if lam == DARTS:
            ax.scatter(weights, accuracy, marker="s", s=50, color="tab:red", zorder=3,
                       label="plain DARTS (λ = 0, point weights)")
    for name, weights, accuracy in references:
        ax.scatter(weights, accuracy, marker="^", s=50, zorder=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("weights of the retrained network")
    ax.set_ylabel("test accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)


def _reference(text: str) -> tuple[str, int, float]:
    name, weights, accuracy = text.rsplit(":", 2)
    return name, int(weights), float(accuracy)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    preset: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, preset = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d")
    parser.add_argument("--lams", default="0.01,0.1,1", help="comma-separated λ values")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--no-darts", action="store_true", help="skip the plain DARTS runs")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (one core each)")
    parser.add_argument("--reference", type=_reference, action="append", default=[],
                        metavar="NAME:WEIGHTS:ACCURACY")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing: tabulate and draw the finished runs under --out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lams = args.lams.split(",") + ([] if args.no_darts else [DARTS])
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(lam, seed) for seed in seeds for lam in lams]
    if args.collect:
        jobs = [job for job in jobs if (_run_dir(args.out, *job) / "eval.json").is_file()]
        lams = [lam for lam in lams if any(job[0] == lam for job in jobs)]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: _search(args.out, args.data, *job, preset), jobs))
    (args.out / "command.txt").write_text(" ".join(["python", *sys.argv]) + "\n")
    write_rows(args.out / "dial.csv", rows)
    _plot(rows, args.reference, args.out / "dial.png",
          f"{args.data}: λ as a dial (seeds {args.seeds}; "
          f"{' '.join(preset) if preset else 'default settings'})")
    for lam in lams:
        group = [r for r in rows if r["lam"] == lam]
        accuracy = [r["test_accuracy"] for r in group]
        weights = [r["weights"] for r in group]
        spread = statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0
        print(f"λ={lam:>6}  weights {statistics.mean(weights):8.0f} "
              f"({min(weights)}-{max(weights)})  test accuracy "
              f"{statistics.mean(accuracy):.4f} ± {spread:.4f}  seeds {len(group)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
