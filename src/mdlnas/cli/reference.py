"""The command-line reference (docs/CLI.md), generated from the argument parser.

    python -m mdlnas.cli.reference > docs/CLI.md

A test compares the file with :func:`render`, so a new command or option that is not in
the reference fails the tests until the file is generated again.
"""

from __future__ import annotations

import argparse
import sys

from mdlnas.cli import build_parser

INTRO = """\
# `mdlnas` command-line reference

Every command and option, generated from the argument parser by
`python -m mdlnas.cli.reference > docs/CLI.md` (a test checks that this file is up to
date). `mdlnas COMMAND --help` prints the same. For a walk from a CSV file to a trained
model, see [TUTORIAL.md](TUTORIAL.md).

An error is one line `mdlnas: error: ...` on stderr with exit code 2 (`--debug` adds the
traceback). `--quiet` silences progress; `--json` prints the result as one JSON object
on stdout and nothing else.
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _name(action: argparse.Action) -> str:
    """What the help calls the value: METAVAR, or the destination in capitals."""
    return action.metavar if isinstance(action.metavar, str) else action.dest.upper()


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:  # a positional argument
        return f"`{_name(action)}`"
    takes_value = action.nargs != 0
    metavar = _name(action)
    names = ", ".join(action.option_strings)
    return f"`{names} {metavar}`" if takes_value else f"`{names}`"


def _default(action: argparse.Action) -> str:
    if not action.option_strings:
        return "optional" if action.nargs == "?" else "required"
    if action.required:
        return "required"
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
        return ""
    value = action.default
    if isinstance(value, tuple | list):
        value = ",".join(map(str, value))
    return f"`{value}`"


def _help(action: argparse.Action) -> str:
    # Python 3.10's BooleanOptionalAction appends this to the help itself; the table has a
    # default column, and 3.11+ do not append it
    text = (action.help or "").removesuffix(" (default: %(default)s)").replace("%%", "%")
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        text += f" (one of: {', '.join(map(str, action.choices))})"
    return _cell(text)


def _command_section(path: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## `{path}`", ""]
    if parser.description:
        lines += [_cell(parser.description), ""]
    subcommands = _subcommands(parser)
    positionals = [a for a in parser._actions
                   if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
    names = [_name(a) for a in positionals]
    synopsis = " ".join([path, *(f"[{name}]" if a.nargs == "?" else name
                                 for a, name in zip(positionals, names, strict=True))])
    if subcommands:
        synopsis += " SUBCOMMAND"
    lines += [f"    {synopsis} [OPTIONS]", ""]
    rows = [a for a in parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]
    if rows:
        lines += ["| argument | default | what it does |", "|---|---|---|"]
        lines += [f"| {_spelling(a)} | {_default(a)} | {_help(a)} |" for a in rows]
        lines.append("")
    if subcommands:
        lines += ["Subcommands: " + ", ".join(f"`{path} {name}`" for name in subcommands), ""]
    for name, sub in subcommands.items():
        lines += _command_section(f"{path} {name}", sub)
    return lines


def render() -> str:
    parser = build_parser()
    commands = _subcommands(parser)
    helps = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    lines = [INTRO, "## Commands", "", "| command | what it does |", "|---|---|"]
    lines += [f"| [`mdlnas {name}`](#mdlnas-{name}) | {_cell(helps.get(name, ''))} |"
              for name in commands]
    lines.append("")
    for name, sub in commands.items():
        lines += _command_section(f"mdlnas {name}", sub)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
