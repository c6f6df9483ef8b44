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
    cost = bsub.add_parser(
        "search-cost",
        formatter_class=Formatter,
        help="a search epoch of each relaxation against a training epoch of a found network",
        description="On real rows of the space's built-in dataset (mlp: digits, conv1d: "
        "MNIST-1D, conv2d: Fashion-MNIST): the median seconds of a search epoch with the "
        "softmax mixture, with a mixture of partial channels (--partial-channels) and with "
        "sampled paths (--relaxation gumbel and reinforce, the latter with the search's "
        "default --paths), each at first order and exact second order, "
        "α moving from the first epoch, and of a training epoch of "
        "a network of the size plain DARTS derives (two edges per node, the space's first "
        "parametric op) on the same training rows; each search epoch as a multiple of the "
        "training epoch. With --json the last line is one JSON object.",
    )
    cost.add_argument("--space", choices=SPACES.names(), required=True, help="search space")
    cost.add_argument("--data", help="dataset (default: the space's built-in one)")
    cost.add_argument("--n-train", type=int, help="training rows (default: all)")
    cost.add_argument("--epochs", type=int, default=2,
                      help="timed epochs of each kind (medians)")
    cost.add_argument("--warmup", type=int, default=1, help="untimed epochs of each kind first")
    cost.add_argument("--deterministic", action="store_true",
                      help="point weights and λ = 0 (plain DARTS) instead of variational, λ = 1")
    cost.add_argument("--channels", type=int, help="the preset's width unless given")
    cost.add_argument("--growth", type=int, help="the preset's channel growth unless given")
    cost.add_argument("--stem-stride", type=int, help="the preset's stem stride unless given")
    cost.add_argument("--partial-channels", type=int, default=4,
                      help="K of the mixture of partial channels measured beside the full "
                      "one (1: not measured)")
    cost.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    add_common(cost)




def execute(args: argparse.Namespace) -> dict[str, Any]:
    if args.benchmark is None:
        raise ConfigError("name a benchmark: `mdlnas bench step-cost --space mlp`")
    import torch

    from mdlnas.workflow.bench import StepCostConfig, format_report, step_cost

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.benchmark == "search-cost":
        from mdlnas.space.presets import SpaceOverrides
        from mdlnas.workflow.search_cost import SearchCostConfig, search_cost
        from mdlnas.workflow.search_cost import format_report as format_cost

        if args.n_train is not None and args.n_train < 1:
            raise ConfigError(f"--n-train must be a positive integer, got {args.n_train}")
        cost = search_cost(SearchCostConfig(
            space=args.space, data=args.data, n_train=args.n_train, epochs=args.epochs,
            warmup=args.warmup, lam=0.0 if args.deterministic else 1.0,
            variational=not args.deterministic, device=args.device,
            overrides=SpaceOverrides(channels=args.channels, channel_growth=args.growth,
                                     stem_stride=args.stem_stride),
            partial_channels=args.partial_channels,
        ))
        if not args.json and not args.quiet:
            print(format_cost(cost))
        return cost
    config = StepCostConfig(
        space=args.space, batch_size=args.batch_size, repeats=args.repeats,
        warmup=args.warmup, lam=0.0 if args.deterministic else 1.0,
        variational=not args.deterministic, device=args.device,
    )
    report = step_cost(config)
    if not args.json and not args.quiet:
        print(format_report(report))
    return report
