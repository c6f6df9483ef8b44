"""``mdlnas predict DIR FILE``: a run's trained network applied to the rows of a file."""

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
    pr = sub.add_parser(
        "predict",
        formatter_class=Formatter,
        help="predict the rows of a CSV / NPZ file with a run's trained network",
        description="Scale the rows of FILE as the run's training did and predict them with "
        "its trained network. A CSV's target column, if present, is ignored; an NPZ file "
        "gives its rows as array X. Writes a CSV with the column prediction and, for "
        "classification, one column p_<class> of probabilities per class.",
    )
    pr.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    pr.add_argument("file", type=Path,
                    help="rows to predict: a .csv / .tsv / .txt table or an .npz file")
    pr.add_argument("--out", type=Path, metavar="PRED.csv", required=True,
                    help="CSV file to write")
    add_common(pr)




def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.predict import predict_file

    result = predict_file(args.run_dir, args.file, args.out, args.device)
    if not args.json and not args.quiet:
        print(f"{result['rows']} predictions written to {result['predictions']}")
    return result
