"""The ``mdlnas`` program: the parser assembled from one module per command, and the
handling of errors and exit codes that every command shares."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from mdlnas import __version__
from mdlnas.cli import (
    bench,
    compare,
    config,
    evaluate,
    export,
    listing,
    predict,
    reproduce,
    search,
    show,
    train,
)
from mdlnas.cli.common import Formatter, Parser, print_error
from mdlnas.cli.options import given_options
from mdlnas.distributed import launched
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.memory import keep_freed_memory

# Every command: its module adds its parser and runs it. The order is the help's.
COMMANDS: dict[str, ModuleType] = {
    "search": search,
    "train": train,
    "evaluate": evaluate,
    "reproduce": reproduce,
    "list": listing,
    "compare": compare,
    "config": config,
    "show": show,
    "export": export,
    "predict": predict,
    "bench": bench,
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mdlnas",
        description="Build a neural network of optimal complexity for your data: "
        "differentiable architecture search (DARTS) in which every candidate is charged "
        "for its description length (variational weights, free energy).",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"mdlnas {__version__}")
    # For commands whose subcommand is missing (`mdlnas reproduce`), which never reach
    # _add_common.
    parser.set_defaults(debug=False, json=False, quiet=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def run() -> None:
    """The program's entry point (``mdlnas``, ``python -m mdlnas``): :func:`main`, then exit."""
    code = main()
    if launched():
        # Under torchrun, gloo's threads sometimes abort the interpreter's shutdown
        # ("terminate called without an active exception", about one run in 50 here) after
        # the process group was destroyed and every file was written, turning a finished
        # job's exit status into a failure. The work is done: leave without the shutdown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        # Output shorter than the buffer is written only now: a reader that went away
        # must show here, not in Python's flush at exit (exit status 120).
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`mdlnas list | head -1`): nothing left to tell it. Point
        # stdout at /dev/null so that Python's flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _main(argv: Sequence[str] | None) -> int:
    keep_freed_memory()  # this process is ours: steps reuse memory instead of faulting it in
    parser = build_parser()
    args = parser.parse_args(argv)
    # Which options were typed (not left at their defaults): they override a config file.
    args.given = given_options(build_parser(), sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result, reports = _run_command(args)
    except MdlnasError as exc:
        if type(exc).__name__ == "ReportedByMain":
            return 2  # rank 0 of a torchrun job prints this error; one line is enough
        if args.debug:
            traceback.print_exc()
        print_error(_rank_prefix() + str(exc))
        return 2
    except KeyboardInterrupt:
        print("mdlnas: interrupted", file=sys.stderr)
        return 130
    if not reports:
        return 0
    if args.json:
        print(json.dumps(result, default=float))
    elif args.command in ("train", "evaluate"):
        print(json.dumps(result, indent=2, default=float))
    return 0


# Commands that run data-parallel under torchrun (docs/DISTRIBUTED.md).
# Commands that run data-parallel under torchrun (docs/DISTRIBUTED.md).
PARALLEL_COMMANDS = ("search", "train")


def _run_command(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The command's result, and whether this process reports it: under torchrun only
    rank 0 prints, draws and logs, while every rank computes."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return COMMANDS[args.command].execute(args), True
    if args.command not in PARALLEL_COMMANDS:
        raise ConfigError(
            f"only {' and '.join(f'`mdlnas {c}`' for c in PARALLEL_COMMANDS)} run under "
            f"torchrun; run `mdlnas {args.command}` as one process"
        )
    from mdlnas import distributed

    with distributed.session(args.device):
        reports = distributed.is_main()
        if not reports:
            args.quiet, args.json, args.no_plots, args.tensorboard = True, False, True, False
        return COMMANDS[args.command].execute(args), reports


def _rank_prefix() -> str:
    """Names the rank of an error that a rank other than 0 raised on its own."""
    rank = os.environ.get("RANK", "0")
    return "" if rank == "0" else f"[rank {rank} of {os.environ.get('WORLD_SIZE')}] "


if __name__ == "__main__":
    sys.exit(main())
