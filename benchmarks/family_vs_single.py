"""The complexity family in one search against one search per λ, side by side in one run.

For every seed: one family search (``mdlnas search --lam-range LO:HI --search-only``), whose
network at each λ of ``--lams`` is retrained and tested by ``mdlnas train DIR --lam λ`` (in
a copy of the run directory per λ), and one ordinary search per λ of ``--lams`` (search,
retrain, test; the runs of ``complexity_dial.py``). ``family.csv`` has one row per seed and
λ: the family's network (weights, test accuracy) next to the separate search's, and the
search seconds of the family against the sum of the separate searches'.

    python benchmarks/family_vs_single.py --data mnist1d --range 0.1:10 \\
        --lams 0.1,0.316,1,3.16,10 --seeds 0 --jobs 2 --out runs/family -- --epochs 32

Everything after ``--`` goes to the family search only (its epochs, knots); the separate
searches run with the defaults. Runs finished under ``--out`` are not repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from complexity_dial import _search as single_search  # a script beside this one

from mdlnas.report.run_files import write_rows

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core per run, --jobs at once
RUN_FILES = ("config.toml", "summary.json", "genotype.json", "front.csv", "genotypes",
             "encoding.json")


def _family_search(out: Path, data: str, lam_range: str, seed: int,
                   options: list[str]) -> Path:
    run_dir = out / f"family-seed{seed}"
    if not (run_dir / "summary.json").is_file():
        command = [sys.executable, "-m", "mdlnas", "search", "--data", data, "--seed",
                   str(seed), "--lam-range", lam_range, "--search-only", "--no-plots",
                   "--quiet", "--out", str(run_dir), *options]
        if (run_dir / "checkpoints" / "search.pt").is_file():
            command = [sys.executable, "-m", "mdlnas", "search", "--resume", str(run_dir),
                       "--search-only", "--quiet", "--no-plots"]
        subprocess.run(command, check=True, env=ENV)
    return run_dir


def _family_network(family_dir: Path, lam: str) -> dict[str, Any]:
    """The family's network of λ, retrained at λ in a copy of the run directory."""
    copy = family_dir.parent / f"{family_dir.name}-lam{lam}"
    if not (copy / "eval.json").is_file():
        copy.mkdir(exist_ok=True)
        for name in RUN_FILES:
            source = family_dir / name
            if source.is_dir():
                shutil.copytree(source, copy / name, dirs_exist_ok=True)
            elif source.is_file():
                shutil.copy2(source, copy / name)
        subprocess.run([sys.executable, "-m", "mdlnas", "train", str(copy), "--lam", lam,
                        "--quiet"], check=True, env=ENV)
    evaluation = json.loads((copy / "eval.json").read_text())
    return {"weights": evaluation["params"], "test_accuracy": evaluation["test_accuracy"],
            "retrain_seconds": evaluation["train_seconds"]}


def _after_family(family: Future[Path], lam: str) -> dict[str, Any]:
    return _family_network(family.result(), lam)


def _plot(rows: list[dict[str, Any]], path: Path, lam_range: str) -> None:
    """Test accuracy against weights: the family's networks joined by λ, the separate
    searches' as markers, each point with its λ; one colour per seed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for k, seed in enumerate(sorted({r["seed"] for r in rows})):
        mine = [r for r in rows if r["seed"] == seed]
        colour = f"C{k}"
        ax.plot([r["family_weights"] for r in mine], [r["family_test_accuracy"] for r in mine],
                "o-", color=colour, label=f"family {lam_range}, seed {seed}")
        ax.scatter([r["single_weights"] for r in mine],
                   [r["single_test_accuracy"] for r in mine], marker="s", s=60,
                   facecolors="none", edgecolors=colour, label=f"one search per λ, seed {seed}")
        for r in mine:
            ax.annotate(f"λ={r['lam']}", (r["family_weights"], r["family_test_accuracy"]),
                        textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("weights")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="mnist1d")
    p.add_argument("--range", required=True, help="LO:HI of the family")
    p.add_argument("--lams", required=True, help="comma-separated λ inside the range")
    p.add_argument("--seeds", default="0")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    lams = args.lams.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    singles_dir = args.out / "single"
    with ThreadPoolExecutor(args.jobs) as pool:
        families = {s: pool.submit(_family_search, args.out, args.data, args.range, s, extra)
                    for s in seeds}
        singles = {(lam, s): pool.submit(single_search, singles_dir, args.data, lam, s, [])
                   for s in seeds for lam in lams}
        # submitted after the searches, so a worker waits only for a family already running
        networks = {(lam, s): pool.submit(_after_family, families[s], lam)
                    for s in seeds for lam in lams}
        rows = []
        for s in seeds:
            family_seconds = json.loads(
                (families[s].result() / "summary.json").read_text())["search_seconds"]
            single_seconds = sum(singles[(lam, s)].result()["search_seconds"] for lam in lams)
            for lam in lams:
                single, mine = singles[(lam, s)].result(), networks[(lam, s)].result()
                rows.append({
                    "seed": s, "lam": lam,
                    "family_weights": mine["weights"],
                    "family_test_accuracy": mine["test_accuracy"],
                    "single_weights": single["weights"],
                    "single_test_accuracy": single["test_accuracy"],
                    "accuracy_gap_points": 100 * (mine["test_accuracy"]
                                                  - single["test_accuracy"]),
                    "size_ratio": mine["weights"] / single["weights"],
                    "family_search_seconds": family_seconds,
                    "single_search_seconds_total": single_seconds,
                    "cost_ratio": family_seconds / single_seconds,
                })
    write_rows(args.out / "family.csv", rows)
    _plot(rows, args.out / "family.png", args.range)
    for row in rows:
        print(f"seed {row['seed']} λ {row['lam']:>6}: family {row['family_weights']:>6,} w "
              f"{row['family_test_accuracy']:.3f}  single {row['single_weights']:>6,} w "
              f"{row['single_test_accuracy']:.3f}  gap {row['accuracy_gap_points']:+.1f} pts  "
              f"size ×{row['size_ratio']:.2f}  cost ×{row['cost_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
