"""Which network does the free energy at λ prefer, and how accurate is it?

*Question* (issue 16, "Fashion-MNIST: λ = 1 within 1 point of DARTS with at most a third of
its weights"): the λ = 1 search keeps the frame alone, and a larger network has a lower free
energy at λ = 1 than the frame. Is any network of the space both preferred by the free
energy at λ = 1 and within a point of DARTS? If the network the free energy prefers,
retrained at λ = 1, is several points below DARTS whatever its size, the target asks for
something the objective itself does not choose, and a better search cannot meet it.

For each finished run directory given (any λ, DARTS's included): a copy retrained by the
product's recipe at ``--lam`` with variational weights (``mdlnas train COPY --lam L
--variational``), and, with ``--point``, a second copy retrained with point weights
(``--deterministic --lam 0``). Read from each retraining: the free energy per training row
of its last epoch (``train_loss``: the data's NLL plus λ·KL over the rows, in nats), the
description length, the weights, and the test accuracy (scored once, by ``mdlnas train``).
One CSV row per retraining:

    python benchmarks/free_energy_audit.py --lam 1 --point --runs RUN_A RUN_B --out audit
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas.workflow.run_dir import load_run_config, save_run_config

RUN_FILES = ("config.toml", "genotype.json", "summary.json")
COLUMNS = ("run", "retraining", "weights", "free_energy_per_row", "kl_per_row",
           "dl_bits", "train_rows", "test_accuracy", "seconds", "command")


def retrained(run_dir: Path, copy: Path, flags: list[str], threads: int) -> dict[str, Any]:
    """``mdlnas train`` on a fresh copy of the run's search (its genotype and config). A
    family run's copy loses its family (front.csv), so that the network retrained at
    ``--lam`` is the one the run chose (genotype.json, at its budget's width), not the
    family's network of that λ, which ``mdlnas train --lam`` would take."""
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    for name in RUN_FILES:
        shutil.copy(run_dir / name, copy / name)
    run = load_run_config(copy)  # a single search of the family's chosen network
    save_run_config(copy, replace(run, search=replace(run.search, lam_range=None,
                                                      max_weights=None, max_macs=None)))
    command = [sys.executable, "-m", "mdlnas", "train", str(copy), "--quiet", *flags]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    seconds = time.perf_counter() - started
    report = json.loads((copy / "eval.json").read_text())
    history = list(csv.DictReader((copy / "train_history.csv").open()))
    rows = int(report["train_rows"])
    dl_bits = float(report.get("description_length_bits") or 0.0)
    return {
        "weights": report["params"],
        "free_energy_per_row": float(history[-1]["train_loss"]),
        "kl_per_row": dl_bits * math.log(2) / rows,
        "dl_bits": dl_bits,
        "train_rows": rows,
        "test_accuracy": report["test_accuracy"],
        "seconds": round(seconds, 1),
        "command": " ".join(["mdlnas", "train", str(copy), *flags]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True,
                        help="finished run directories (mdlnas search) whose genotypes to retrain")
    parser.add_argument("--lam", type=float, default=1.0,
                        help="λ of the variational retraining (default 1, the seed's free energy)")
    parser.add_argument("--point", action="store_true",
                        help="also retrain each genotype with point weights")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "audit.csv"
    done = {(r["run"], r["retraining"]) for r in csv.DictReader(table.open())} \
        if table.exists() else set()
    retrainings = [(f"lam{args.lam:g}", ["--lam", f"{args.lam:g}", "--variational"])]
    if args.point:
        retrainings.append(("point", ["--deterministic", "--lam", "0"]))
    for run_dir in args.runs:
        name = f"{run_dir.parent.name}-{run_dir.name}"
        for label, flags in retrainings:
            if (name, label) in done:
                continue
            row = {"run": name, "retraining": label,
                   **retrained(run_dir, args.out / f"{name}-{label}", flags, args.threads)}
            new = not table.exists()
            with table.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print(f"{name} {label}: {row['weights']} w, free energy "
                  f"{row['free_energy_per_row']:.3f} nats/row (KL {row['kl_per_row']:.3f}), "
                  f"test {row['test_accuracy']:.4f}, {row['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
