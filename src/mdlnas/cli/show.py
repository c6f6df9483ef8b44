"""``mdlnas show DIR``: what a run directory holds, and its pictures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
)


def add_parser(sub: Subparsers) -> None:
    sh = sub.add_parser(
        "show",
        formatter_class=Formatter,
        help="summarise a run directory and draw its plots",
        description="Print what a run directory holds: data, space, search, test scores, "
        "the genotype (or, for a `mdlnas compare` directory, its table and the mean over "
        "seeds). With --plots, "
        "(re)draw DIR/plots: γ of every edge over the epochs, loss and description-length "
        "curves, the derived cells (or the Pareto picture of a comparison).",
    )
    sh.add_argument("run_dir", type=Path, help="a run directory (or a compare --out)")
    sh.add_argument("--plots", action="store_true", help="(re)draw the pictures in DIR/plots")
    sh.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    sh.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sh.add_argument("--debug", action="store_true", help="show tracebacks of errors")




def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.show import draw_plots, format_overview, run_overview

    overview = run_overview(args.run_dir)
    if args.plots:
        overview["plots"] = [str(path) for path in draw_plots(args.run_dir)]
    if not args.json and not args.quiet:
        print(format_overview(overview))
        if args.plots:
            print(f"plots: {', '.join(overview['plots']) or 'none'}")
    return overview
