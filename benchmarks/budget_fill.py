"""The budget's pick with each network widened (or narrowed) to fill the budget.

*Hypothesis* (issue 17, "--max-weights 800"): the family's networks within a budget are
often well under it (498 of 800 weights), and a good cell just over it (818 of 800) is
left out, so the pick wastes the budget. If every distinct network of a finished family
search is rebuilt in the widest frame (``--channels``) whose network fits the budget, and
the trial trainings then choose among those, the budget buys more accuracy.

For each finished family run directory (``mdlnas search --lam-range ...``): every distinct
genotype of ``front.csv`` at its row of best supernet validation (its λ), fitted to the
budget; a trial training of each on the search's training rows (the run's retraining
recipe at that λ, ``--trial-epochs`` epochs, scored on validation); the best on validation
retrained by the run's recipe and tested once. ``--fill no`` keeps each network at the
search's width (networks over the budget are left out): the product's present rule, for
a side-by-side check. One CSV row per run:

    python benchmarks/budget_fill.py --budget 800 --runs RUN0 RUN1 RUN2 --out fill-800.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas.config import BayesConfig
from mdlnas.data import load
from mdlnas.report.run_files import write_rows
from mdlnas.space.genotype import Genotype
from mdlnas.strategies.family import size_of, trial_metric
from mdlnas.train.retrain import evaluate, retrain
from mdlnas.workflow import load_run_config

WIDEST = 4  # the frame is widened at most this many times the search's width


def fitted(genotype: Genotype, budget: int, bayes: BayesConfig) -> Genotype | None:
    """The genotype in the widest frame whose network has at most ``budget`` weights."""
    best = None
    for channels in range(1, WIDEST * genotype.space.channels + 1):
        candidate = genotype.scaled(channels=channels)
        if size_of(candidate, bayes).weights > budget:
            break
        best = candidate
    return best


def candidates(run_dir: Path) -> list[dict[str, Any]]:
    """Each distinct genotype's row of best supernet validation metric."""
    rows = list(csv.DictReader((run_dir / "front.csv").open()))
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = best.get(row["genotype"])
        if seen is None or float(row["val_metric"]) > float(seen["val_metric"]):
            best[row["genotype"]] = row
    return list(best.values())


def one_run(run_dir: Path, budget: int, trial_epochs: int, fill: bool) -> dict[str, Any]:
    run = load_run_config(run_dir)
    data = load(run.data)
    bayes = run.train.bayes
    tried = []
    for row in candidates(run_dir):
        genotype = Genotype.load(run_dir / "genotypes" / row["genotype"])
        network = fitted(genotype, budget, bayes) if fill else (
            genotype if size_of(genotype, bayes).weights <= budget else None)
        if network is None:
            continue
        lam = float(row["lam"])
        config = replace(run.retraining(lam), epochs=trial_epochs, refit=False)
        start = time.perf_counter()
        metric = trial_metric(network, data, config)
        weights = size_of(network, bayes).weights
        print(f"{run_dir.name}: {row['genotype']} λ {lam:.3g} at {network.space.channels} "
              f"channels, {weights} weights: trial {metric:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        tried.append((metric, -weights, lam, network))
    metric, minus_weights, lam, network = max(tried, key=lambda t: (t[0], t[1]))
    final_data = load(run.retraining_data())
    result = retrain(network, final_data, run.retraining(lam))
    scores = evaluate(result.model, final_data)
    return {
        "run": str(run_dir), "seed": run.search.seed, "budget": budget, "fill": fill,
        "lam": lam, "channels": network.space.channels, "weights": -minus_weights,
        "trial_val": metric, "test_accuracy": scores["test_accuracy"],
        "candidates": " ".join(f"{t[3].space.channels}ch/{-t[1]}w/{t[0]:.4f}" for t in tried),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--trial-epochs", type=int, default=30)
    parser.add_argument("--fill", choices=("yes", "no"), default="yes")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [one_run(d, args.budget, args.trial_epochs, args.fill == "yes") for d in args.runs]
    write_rows(args.out, rows)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
