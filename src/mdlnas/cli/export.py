"""``mdlnas export DIR``: a run's trained network as a torch.export program or ONNX graph."""

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
    x = sub.add_parser(
        "export",
        formatter_class=Formatter,
        help="export a run's trained network (torch.export or ONNX)",
        description="Export the trained network of a run directory with its input scaling, "
        "in evaluation mode (posterior means): raw features in, class probabilities or "
        "predictions in the target's units out. torch: a torch.export program (.pt2, load "
        "with torch.export.load); onnx: an ONNX graph (needs pip install 'mdlnas[export]'). "
        "FILE.json beside it records the input shape and the class order. See docs/API.md.",
    )
    x.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    x.add_argument("--format", choices=("torch", "onnx"), default="torch", help="file format")
    x.add_argument("--out", type=Path, metavar="FILE",
                   help="output file (unset: DIR/model.pt2 or DIR/model.onnx)")
    add_common(x)



def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.export import export_run

    result = export_run(args.run_dir, args.format, args.out)
    if not args.json and not args.quiet:
        print(f"exported to {result['export']} (what it expects and returns: "
              f"{result['metadata']})")
    return result
