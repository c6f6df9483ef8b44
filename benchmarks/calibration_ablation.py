"""What each part of the calibrated description length does: the same search (one λ, one
seed) with one part switched back to the first build's setting at a time.

Variants (options added to every ``mdlnas search --search-only``):

- ``calibrated``: today's defaults (σ₀ relative to each tensor's scale, σ at its own rate,
  empirical-Bayes prior, calibration before α moves);
- ``no-calibration``: ``--calibrate 0`` (α moves from the first step);
- ``absolute-sigma``: ``--sigma-init absolute --init-sigma 0.001`` (the first build's σ₀);
- ``slow-sigma``: ``--sigma-lr 0.003`` (σ at the weights' rate);
- ``fixed-prior``: ``--prior-std 1`` (prior N(0, 1) instead of the closed-form one);
- ``first-build``: all of the above at once.

Each run directory lands under ``--out``; finished ones are not repeated. The table
(``ablation.csv`` and printed) gives the derived network's weights, the supernet's
validation accuracy, and the non-zero ops the cells kept.

    python benchmarks/calibration_ablation.py --lam 0.1 --seed 0 --out runs/ablation
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mdlnas.report.run_files import write_rows

VARIANTS: dict[str, list[str]] = {
    "calibrated": [],
    "no-calibration": ["--calibrate", "0"],
    "absolute-sigma": ["--sigma-init", "absolute", "--init-sigma", "0.001"],
    "slow-sigma": ["--sigma-lr", "0.003"],
    "fixed-prior": ["--prior-std", "1"],
    "first-build": ["--calibrate", "0", "--sigma-init", "absolute", "--init-sigma", "0.001",
                    "--sigma-lr", "0.003", "--prior-std", "1"],
}


def _run(out: Path, name: str, data: str, lam: str, seed: int, extra: list[str]) -> dict[str, Any]:
    run_dir = out / name
    summary_file = run_dir / "summary.json"
    if not summary_file.is_file():
        command = [sys.executable, "-m", "mdlnas", "search", "--data", data, "--lam", lam,
                   "--seed", str(seed), "--search-only", "--no-plots", "--quiet",
                   "--out", str(run_dir), *VARIANTS[name], *extra]
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    summary = json.loads(summary_file.read_text())
    genotype = json.loads((run_dir / "genotype.json").read_text())
    kept = sorted({op for cell in genotype["cells"].values() for _, _, op in cell["edges"]})
    return {"variant": name, "options": " ".join(VARIANTS[name]),
            "weights": summary["genotype_params"], "supernet_val": summary["val_metric"],
            "epochs": summary["epochs_run"], "ops_kept": " ".join(kept)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d")
    parser.add_argument("--lam", default="0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="options added to every search (after --)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.variants.split(",")
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(
            lambda n: _run(args.out, n, args.data, args.lam, args.seed, args.extra), names))
    write_rows(args.out / "ablation.csv", rows)
    for row in rows:
        print(f"{row['variant']:>15}  weights {row['weights']:6d}  supernet val "
              f"{row['supernet_val']:.4f}  ops kept: {row['ops_kept']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
