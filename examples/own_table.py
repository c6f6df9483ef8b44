"""Your own table, end to end with the command line: search, look, predict.

Writes a small CSV the way real tables come (a text column, a missing value, a header),
then runs what a user would type:

    mdlnas search --data houses.csv --target price --impute median --out run
    mdlnas show run
    mdlnas predict run new_houses.csv --out predictions.csv

    python examples/own_table.py            # about a minute on 2 cores
    python examples/own_table.py --quick    # seconds: tiny settings, for the tests
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def write_houses(path: Path, rows: int, rng: np.random.Generator, with_target: bool) -> None:
    """A made-up housing table: price grows with area and rooms, and by district."""
    districts = {"north": 40.0, "centre": 90.0, "south": 10.0}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["area", "rooms", "district", *(["price"] if with_target else [])])
        for i in range(rows):
            area, rooms = rng.uniform(30, 150), int(rng.integers(1, 6))
            district = str(rng.choice(list(districts)))
            price = 2.0 * area + 15.0 * rooms + districts[district] + rng.normal(0, 10)
            shown_area = "" if i % 17 == 0 else f"{area:.1f}"  # a missing value now and then
            writer.writerow([shown_area, rooms, district,
                             *([f"{price:.1f}"] if with_target else [])])


def mdlnas(*args: str) -> None:
    print("$ mdlnas " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "mdlnas", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (for the tests)")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    effort = ["--epochs", "2", "--train-epochs", "5"] if args.quick else []

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        write_houses(folder / "houses.csv", 400, rng, with_target=True)
        write_houses(folder / "new_houses.csv", 5, rng, with_target=False)
        run = str(folder / "run")
        mdlnas("search", "--data", str(folder / "houses.csv"), "--target", "price",
               "--impute", "median", "--out", run, "--quiet", "--no-plots", *effort)
        mdlnas("show", run)
        mdlnas("predict", run, str(folder / "new_houses.csv"),
               "--out", str(folder / "predictions.csv"))
        print((folder / "predictions.csv").read_text(), end="")


if __name__ == "__main__":
    main()
