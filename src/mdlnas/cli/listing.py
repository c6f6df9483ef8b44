"""``mdlnas list``: the registered datasets, search spaces and ops."""

from __future__ import annotations

import argparse
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
)
from mdlnas.data import dataset_names
from mdlnas.space.ops import OPS
from mdlnas.space.presets import SPACES


def add_parser(sub: Subparsers) -> None:
    ls = sub.add_parser(
        "list",
        formatter_class=Formatter,
        help="list datasets, search spaces and ops",
        description="List the registered datasets, search spaces and ops.",
    )
    add_common(ls)


def execute(args: argparse.Namespace) -> dict[str, Any]:
    listing = {
        "datasets": dataset_names(),
        "spaces": SPACES.names(),
        "ops": {name: sorted(OPS.get(name).dims) for name in OPS.names()},
    }
    if not args.json:
        print("datasets:", ", ".join(listing["datasets"]), "(or a .csv / .npz file)")
        print("spaces:  ", ", ".join(listing["spaces"]))
        print("ops:     ", ", ".join(OPS.names()))
    return listing
