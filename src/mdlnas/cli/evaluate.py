"""``mdlnas evaluate DIR``: score a run's saved model on the test part again."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
)


def add_parser(sub: Subparsers) -> None:
    e = sub.add_parser(
        "evaluate",
        formatter_class=Formatter,
        help="re-evaluate a run's saved model",
        description="Load the saved model of a run directory and score it on the test part.",
    )
    e.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    add_common(e)



def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow import run_evaluate

    return run_evaluate(args.run_dir, args.device)
