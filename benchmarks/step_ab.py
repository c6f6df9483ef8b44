"""Before/after timing of search steps, for versions of mdlnas without ``mdlnas bench``.

    git worktree add /tmp/before <commit>
    for i in 1 2 3; do
      PYTHONPATH=/tmp/before/src python benchmarks/step_ab.py --label before
      PYTHONPATH=src python benchmarks/step_ab.py --label after
    done

Only uses what every version has (``BilevelSearch._step``, ``evaluate_free_energy``), on
``mdlnas bench``'s fixed synthetic batch (rebuilt here, so the older version needs no new
code). Prints one JSON line: the minimum and the median over the repeats of one
forward+backward and of each kind of step, in ms; minima are the steadier figure on a
shared machine. Alternate the versions, as above, so that load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from mdlnas.config import BayesConfig, SearchConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import evaluate_free_energy
from mdlnas.space.presets import make_space

SHAPES = {0: (64,), 1: (1, 40), 2: (1, 28, 28)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", required=True)
    p.add_argument("--space", default="mlp")
    p.add_argument("--deterministic", action="store_true", help="point weights, λ = 0")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(1)
    space = make_space(args.space)
    rng = np.random.default_rng(0)

    def part() -> Split:
        x = rng.standard_normal((args.batch_size, *SHAPES[space.dim])).astype(np.float32)
        return Split(x, rng.integers(0, 10, args.batch_size))

    data = DataBundle("synthetic", "classification", part(), part(), part(),
                      SHAPES[space.dim], 10)
    lam = 0.0 if args.deterministic else 1.0
    bayes = BayesConfig(variational=not args.deterministic)
    searches = {
        kind: BilevelSearch(data, space, SearchConfig(
            lam=lam, xi=xi, hypergradient=method, batch_size=args.batch_size,  # type: ignore[arg-type]
            device="cpu", bayes=bayes))
        for kind, (xi, method) in {"first_order": (0.0, "exact"),
                                   "second_order_exact": (0.01, "exact"),
                                   "second_order_fd": (0.01, "fd")}.items()
    }
    first = searches["first_order"]
    train = (first.train_split.x, first.train_split.y)
    val = (first.val_split.x, first.val_split.y)

    def fwd_bwd() -> None:
        first.model.zero_grad(set_to_none=True)
        energy = evaluate_free_energy(first.model, *train, lam=lam, m=first.m)
        torch.autograd.backward(energy.total)

    runs: dict[str, Callable[[], object]] = {"fwd_bwd": fwd_bwd}
    for kind, search in searches.items():
        search.model.train()
        runs[kind] = lambda s=search: s._step(train, val)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for repeat in range(args.repeats + 2):
        for kind, run in runs.items():
            start = time.perf_counter()
            run()
            if repeat >= 2:
                times[kind].append((time.perf_counter() - start) * 1000)
    print(json.dumps({
        "label": args.label, "space": args.space, "deterministic": args.deterministic,
        "min_ms": {k: round(min(v), 2) for k, v in times.items()},
        "median_ms": {k: round(statistics.median(v), 2) for k, v in times.items()},
    }))


if __name__ == "__main__":
    main()
