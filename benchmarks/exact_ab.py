"""The exact second-order step with and without the convolutions' own double backward.

    python benchmarks/exact_ab.py --space conv1d --batch-size 128 --repeats 3

One process, one model, ``mdlnas bench``'s fixed batch: every repeat times a
forward+backward and an exact step (``BilevelSearch.step``) with
:func:`mdlnas.space.twice.twice_differentiable` turned off (PyTorch's double backward of
a convolution) and then on (this project's), so that changing load hits both alike; the
first repeat is a warm-up. Prints one JSON line with the medians in ms and each step over
its forward+backward. Freed memory is kept, as the ``mdlnas`` command does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import mdlnas.search.hypergradient as hypergradient
from mdlnas.config import SearchConfig
from mdlnas.memory import keep_freed_memory
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import evaluate_free_energy
from mdlnas.space.presets import make_space
from mdlnas.workflow.bench import synthetic_data

ORIGINAL = hypergradient.twice_differentiable
CONTEXTS = {"pytorch": lambda enabled=True: ORIGINAL(False), "twice": ORIGINAL}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="conv1d")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    space = make_space(args.space)
    data = synthetic_data(space.dim, args.batch_size, 0)
    search = BilevelSearch(data, space, SearchConfig(xi=0.01, device="cpu",
                                                     batch_size=args.batch_size))
    search.model.train()
    train = (search.train_split.x, search.train_split.y)
    val = (search.val_split.x, search.val_split.y)
    times: dict[str, list[float]] = {}

    def timed(key: str, fn: object) -> None:
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.setdefault(key, []).append((time.perf_counter() - start) * 1000)

    def fwd_bwd() -> None:
        search.model.zero_grad(set_to_none=True)
        torch.autograd.backward(
            evaluate_free_energy(search.model, *train, lam=1.0, m=search.m).total)

    for repeat in range(args.repeats + 1):
        for label, context in CONTEXTS.items():
            hypergradient.twice_differentiable = context  # type: ignore[assignment]
            timed(f"{label}_fwd_bwd", fwd_bwd)
            timed(f"{label}_exact_step", lambda: search.step(train, val))
        if repeat == 0:
            times.clear()  # warm-up
    hypergradient.twice_differentiable = ORIGINAL
    median = {k: round(statistics.median(v), 2) for k, v in times.items()}
    report = {"space": args.space, "batch_size": args.batch_size, "repeats": args.repeats,
              **median}
    for label in ("pytorch", "twice"):
        report[f"{label}_ratio"] = round(median[f"{label}_exact_step"]
                                         / median[f"{label}_fwd_bwd"], 3)
    report["exact_step_twice_over_pytorch"] = round(
        median["twice_exact_step"] / median["pytorch_exact_step"], 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
