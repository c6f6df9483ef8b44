"""What every command of the command line shares: the help layout, the one-line error,
the common options and the progress lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # imported where used: most commands need no TensorBoard
    from mdlnas.report.tensorboard_log import TensorBoardLogger

# argparse's object for `sub.add_parser(...)`; its class is private to argparse.
Subparsers = Any
Progress = Callable[[str], None]


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless there is nothing to show (None, an off switch) or
    its help already says it in words."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is the same one line as every other error (subcommand
    parsers are made with the parent's class, so they inherit this)."""

    def error(self, message: str) -> NoReturn:
        print_error(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(2)


def print_error(message: str) -> None:
    # One line whatever the message: some embed multi-line text from other libraries.
    print(f"mdlnas: error: {' '.join(message.split())}", file=sys.stderr)


def add_parser(sub: Subparsers, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A command's parser, laid out like every other."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, formatter_class=Formatter, help=help, description=description
    )
    return parser


def add_common(p: argparse.ArgumentParser, device: bool = True) -> None:
    if device:
        p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def add_tensorboard(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="log every epoch to DIR/tensorboard (needs pip install tensorboard)",
    )


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def progress(args: argparse.Namespace) -> Progress:
    if args.quiet:
        return lambda _: None
    return lambda line: print(line, file=sys.stderr, flush=True)


def open_tensorboard(args: argparse.Namespace, run_dir: Path) -> TensorBoardLogger | None:
    """A TensorBoard logger for ``--tensorboard`` (None without): made before any work, so
    that a missing tensorboard package fails at once."""
    if not args.tensorboard:
        return None
    from mdlnas.report.tensorboard_log import TensorBoardLogger

    return TensorBoardLogger(run_dir)
