"""Derive a run's genotype again from its final mixing weights, with today's rule.

The search's trajectory does not depend on how the architecture is read off at the end,
so a finished search can be re-derived without searching again: this reads the last
epoch's γ from ``alphas.csv`` (six decimals), or with ``--average-from E`` the mean γ of
epochs ``E`` to the last (iterate averaging, for a noisy α), derives with the run's own rule
(``--derive``), and, when the genotype changes, replaces ``genotype.json`` (the old one is
kept as ``genotype-before.json``) and removes the retraining's results so that
``mdlnas train DIR`` retrains the new one.

    python benchmarks/rederive.py runs/dial-mnist1d/lam1-seed2 [more run directories]
    python benchmarks/rederive.py --average-from 226 RUN_DIR   # γ averaged over 226..last
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mdlnas.config import BayesConfig
from mdlnas.report.run_files import ALPHAS_FILE, edge_label, read_rows
from mdlnas.search.method import derive_genotype
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.workflow import load_run_config


def final_gammas(run_dir: Path, genotype: Genotype,
                 average_from: int | None = None) -> dict[str, np.ndarray]:
    """The last epoch's γ, or the mean γ of epochs ``average_from`` to the last."""
    rows = read_rows(run_dir / ALPHAS_FILE)
    last = max(int(r["epoch"]) for r in rows)
    first = last if average_from is None else min(average_from, last)
    space = genotype.space
    edges = [edge_label(s, d) for s, d in cell_edges(space.n_nodes)]
    gammas: dict[str, np.ndarray] = {}
    for row in rows:
        if first <= int(row["epoch"]) <= last:
            gamma = gammas.setdefault(str(row["cell"]),
                                      np.zeros((len(edges), len(space.ops))))
            where = edges.index(str(row["edge"])), space.ops.index(str(row["op"]))
            gamma[where] += float(row["gamma"]) / (last - first + 1)
    return gammas


def rederive(run_dir: Path, average_from: int | None = None) -> tuple[int, int, bool]:
    """(weights before, weights after, changed) for one run directory."""
    before = Genotype.load(run_dir / "genotype.json")
    rule = load_run_config(run_dir).search.derive
    after = derive_genotype(final_gammas(run_dir, before, average_from), before.space, before.task,
                            before.input_shape, before.output_dim, rule=rule)
    size = [count_weights(DerivedNetwork(g, BayesConfig(variational=False)))
            for g in (before, after)]
    changed = after != before
    if changed:
        (run_dir / "genotype.json").rename(run_dir / "genotype-before.json")
        after.save(run_dir / "genotype.json")
        for name in ("eval.json", "model.pt", "train_history.csv"):
            (run_dir / name).unlink(missing_ok=True)
    return size[0], size[1], changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("--average-from", type=int, default=None,
                        help="derive from the mean γ of this epoch to the last")
    args = parser.parse_args()
    for run_dir in args.run_dirs:
        old, new, changed = rederive(run_dir, args.average_from)
        print(f"{run_dir}: {old} -> {new} weights" + ("" if changed else " (unchanged)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
