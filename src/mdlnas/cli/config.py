"""``mdlnas config``: a complete, commented config file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
)
from mdlnas.errors import ConfigError


def add_parser(sub: Subparsers) -> None:
    co = sub.add_parser(
        "config",
        formatter_class=Formatter,
        help="print a complete, commented config file",
        description="Print a TOML config file for `mdlnas search --config`: with --defaults "
        "every setting at its default, or FILE (a config file or a run's config.toml) with "
        "every setting it leaves out filled in. Each option has a comment saying what it is.",
    )
    co.add_argument("file", type=Path, nargs="?", help="a config file to complete")
    co.add_argument("--defaults", action="store_true", help="print the defaults")
    co.add_argument("--json", action="store_true", help="print the tables as one JSON object")
    co.add_argument("--debug", action="store_true", help="show tracebacks of errors")



def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.cli.options import search_run_config
    from mdlnas.workflow import config_tables
    from mdlnas.workflow.config_file import config_text, load_config_file
    from mdlnas.workflow.run_config import default_run_config

    if args.defaults == (args.file is not None):
        raise ConfigError("give --defaults, or FILE to complete: `mdlnas config --defaults "
                          "> my.toml`, `mdlnas config my.toml`")
    if args.defaults:
        run, header = default_run_config(), None
    else:
        run = search_run_config(args, frozenset(), load_config_file(args.file))
        header = f"{args.file}, with every setting it leaves out at its default."
    if not args.json:
        print(config_text(run) if header is None else config_text(run, header), end="")
    return config_tables(run)
