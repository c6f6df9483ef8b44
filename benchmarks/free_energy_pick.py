"""The family's networks judged by their free energy at one λ: the objective picks.

*Hypothesis* (issue 16, Fashion-MNIST at λ = 1): a single λ = 1 search on 2,000 rows
keeps the frame alone (162 weights, 0.603), yet networks of two convolutions have a much
lower free energy at λ = 1 when trained (``free_energy_audit.py``: 0.961 against 1.290
nats a row). If a family search (``--lam-range``) proposes the candidates and each is
trained briefly at λ with variational weights, the one of least free energy per training
row is the network the seed's objective prefers; retrained at λ, it should be far more
accurate than the frame, and small.

For each finished family run directory: every distinct genotype of ``front.csv`` (at the
search's width, and at each ``--widths`` if given), a trial training at ``--lam`` (the
run's retraining recipe, ``--trial-epochs`` epochs, the training rows only), its free
energy per training row read off the trial's last epoch; the least retrained by the run's
recipe at ``--lam`` and tested once. One CSV row per run:

    python benchmarks/free_energy_pick.py --lam 1 --runs RUN0 RUN1 RUN2 --out pick.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas.data import load
from mdlnas.report.run_files import write_rows
from mdlnas.space.genotype import Genotype
from mdlnas.strategies.family import size_of
from mdlnas.train.retrain import evaluate, retrain
from mdlnas.workflow import load_run_config


def one_run(run_dir: Path, lam: float, trial_epochs: int, widths: list[int]) -> dict[str, Any]:
    run = load_run_config(run_dir)
    data = load(run.data)
    bayes = run.train.bayes
    names = sorted({row["genotype"] for row in csv.DictReader((run_dir / "front.csv").open())})
    config = replace(run.retraining(lam), epochs=trial_epochs, refit=False)
    tried = []
    for name in names:
        searched = Genotype.load(run_dir / "genotypes" / name)
        for channels in sorted({searched.space.channels, *widths}):
            network = searched.scaled(channels=channels)
            start = time.perf_counter()
            last = retrain(network, data, config).history[-1]
            weights = size_of(network, bayes).weights
            free_energy = float(last["train_loss"])
            print(f"{run_dir.name}: {name} at {channels} channels, {weights} weights: free "
                  f"energy {free_energy:.4f} nats/row, validation {last['val_metric']:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
            tried.append((free_energy, weights, name, network, float(last["val_metric"])))
    free_energy, weights, name, network, val = min(tried, key=lambda t: (t[0], t[1]))
    final_data = load(run.retraining_data())
    result = retrain(network, final_data, run.retraining(lam))
    scores = evaluate(result.model, final_data)
    return {
        "run": str(run_dir), "seed": run.search.seed, "lam": lam, "genotype": name,
        "channels": network.space.channels, "weights": weights,
        "trial_free_energy": free_energy, "trial_val": val,
        "test_accuracy": scores["test_accuracy"],
        "dl_bits": scores["description_length_bits"],
        "candidates": " ".join(f"{t[2]}/{t[3].space.channels}ch/{t[1]}w/{t[0]:.4f}"
                               for t in tried),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--trial-epochs", type=int, default=30)
    parser.add_argument("--widths", default="",
                        help="also try every network at these widths (comma-separated)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",") if w]
    rows = [one_run(d, args.lam, args.trial_epochs, widths) for d in args.runs]
    write_rows(args.out, rows)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
