"""``mdlnas bench step-cost`` with every timing it takes, not only the medians.

    python benchmarks/step_cost_raw.py --space conv1d

Runs :func:`mdlnas.workflow.bench.step_cost` as the command does (one thread, freed memory kept)
and prints one JSON line: the report's ratios and, per timed repeat, each step's time and
the forward+backward timed right before it. It shows how much the machine's speed moves
from one repeat to the next, and whether the forward+backward depends on which step ran
before it (the bench takes its median over all three positions).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable

import torch

import mdlnas.workflow.bench as bench
from mdlnas.memory import keep_freed_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="conv1d")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    config = bench.StepCostConfig(space=args.space, repeats=args.repeats, device="cpu")
    timings: list[float] = []
    timed = bench._timed

    def logged(fn: Callable[[], object], device: torch.device) -> float:
        ms = timed(fn, device)
        timings.append(ms)
        return ms

    bench._timed = logged  # type: ignore[assignment]
    report = bench.step_cost(config)
    bench._timed = timed  # type: ignore[assignment]
    order = bench.timing_order(bench.STEPS)
    per_repeat = len(order)
    raw: dict[str, list[float]] = {}
    # the step loop's timings come first; later calls (the matrix product) are not kept
    for index, ms in enumerate(timings[: per_repeat * (config.warmup + config.repeats)]):
        repeat, position = divmod(index, per_repeat)
        if repeat < config.warmup:
            continue
        name = order[position]
        key = f"fwd_bwd_before_{order[position + 1]}" if name == "fwd_bwd" else name
        raw.setdefault(key, []).append(round(ms, 1))
    print(json.dumps({
        "space": args.space, "repeats": config.repeats,
        **{k: round(report[k], 3) for k in ("fwd_bwd_ms", "ratio_first", "ratio_second_exact",
                                           "ratio_second_fd")},
        "medians": {k: round(statistics.median(v), 1) for k, v in raw.items()},
        "raw_ms": raw,
    }))


if __name__ == "__main__":
    main()
