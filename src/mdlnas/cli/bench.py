"""``mdlnas bench BENCHMARK``: benchmarks of mdlnas itself."""

from __future__ import annotations

import argparse
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
)
from mdlnas.errors import ConfigError
from mdlnas.space.presets import SPACES


def add_parser(sub: Subparsers) -> None:
    b = sub.add_parser(
        "bench",
        formatter_class=Formatter,
        help="measure the cost of a search step",
        description="Benchmarks of mdlnas itself.",
    )
    bsub = b.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    sc = bsub.add_parser(
        "step-cost",
        formatter_class=Formatter,
        help="one DARTS step of each kind against one forward+backward of the supernet",
        description="On the space's default config and one fixed synthetic batch: the "
        "median time of a forward+backward of the supernet and of a first-order, exact "
        "second-order and finite-difference second-order search step, each step as a "
        "multiple of the forward+backward (targets: first order ≤ 2.3, exact second order "
        "≤ 4.5), their GFLOP/s against a matrix product timed in the same run, and the "
        "peak memory. The steps take turns in every repeat, each right after a "
        "forward+backward, so that a changing load hits the ratios' two sides alike. "
        "With --json the last line is one JSON object.",
    )
    sc.add_argument("--space", choices=SPACES.names(), required=True, help="search space")
    sc.add_argument("--batch-size", type=int, default=128, help="rows of the fixed batch")
    sc.add_argument("--repeats", type=int, default=10, help="timed repeats (medians)")
    sc.add_argument("--warmup", type=int, default=2, help="untimed repeats first")
    sc.add_argument("--deterministic", action="store_true",
                    help="point weights and λ = 0 (plain DARTS) instead of variational, λ = 1")
    sc.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    add_common(sc)




def execute(args: argparse.Namespace) -> dict[str, Any]:
    if args.benchmark is None:
        raise ConfigError("name a benchmark: `mdlnas bench step-cost --space mlp`")
    import torch

    from mdlnas.workflow.bench import StepCostConfig, format_report, step_cost

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = StepCostConfig(
        space=args.space, batch_size=args.batch_size, repeats=args.repeats,
        warmup=args.warmup, lam=0.0 if args.deterministic else 1.0,
        variational=not args.deterministic, device=args.device,
    )
    report = step_cost(config)
    if not args.json and not args.quiet:
        print(format_report(report))
    return report
