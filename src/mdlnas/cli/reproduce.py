"""``mdlnas reproduce EXPERIMENT``: the experiments of the seed paper."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
    progress,
)
from mdlnas.errors import ConfigError


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def add_parser(sub: Subparsers) -> None:
    r = sub.add_parser(
        "reproduce",
        formatter_class=Formatter,
        help="reproduce an experiment of the seed paper",
        description="Reproduce an experiment of the seed document.",
    )
    rsub = r.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    sc = rsub.add_parser(
        "sincos",
        formatter_class=Formatter,
        help="y = α0 sin(w0 x) + α1 cos(w1 x): descent trajectories for several ξ",
        description="The seed's synthetic experiment: fit y = α0 sin(w0 x) + α1 cos(w1 x) + "
        "N(0, 0.1) by the bilevel search from one starting point for several ξ; writes "
        "summary.json, trajectories.csv and trajectories.png.",
    )
    sc.add_argument("--out", type=Path, required=True, help="output directory")
    sc.add_argument("--xi", type=_floats, help="comma-separated ξ values (default 0,0.1,0.3,1)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the synthetic sample")
    add_common(sc)



def execute(args: argparse.Namespace) -> dict[str, Any]:
    if args.experiment != "sincos":
        raise ConfigError("name an experiment: `mdlnas reproduce sincos --out DIR`")
    from mdlnas.reproduce.sincos import SincosConfig, run_sincos

    config = SincosConfig(seed=args.seed)
    if args.xi is not None:
        config = replace(config, xis=args.xi)
    summary: dict[str, Any] = run_sincos(config, args.out, progress=progress(args))
    return summary
