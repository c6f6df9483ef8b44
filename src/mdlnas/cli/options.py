"""The settings' options as argparse flags, and how the typed ones become a run.

Flags, help and defaults come from the declared settings (:mod:`mdlnas.workflow.options`).
Precedence: the defaults, then a config file (``--config``), then the options the user
actually typed. "Typed" matters: an option left at its argparse default must not undo the
file, and one typed with the default's value must still override it, so typed options
are found by parsing the command line again with every default removed.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mdlnas.cli.common import comma_list
from mdlnas.data import dataset_names
from mdlnas.space.ops import OPS
from mdlnas.space.presets import SPACES
from mdlnas.workflow.options import Option, option_tables, search_options
from mdlnas.workflow.run_config import (
    DEFAULT_DATA,
    PRESET_KEYS,
    RunConfig,
    config_from_tables,
    config_tables,
)

# What only the registries know, read when the parser is built: a new dataset, space or
# op shows in the help without a change here.
_CHOICES: dict[str, Callable[[], list[str]]] = {"space": SPACES.names}
_NAMES: dict[str, Callable[[], list[str]]] = {"data": dataset_names, "ops": OPS.names}


def add_options(
    p: argparse.ArgumentParser, options: Sequence[Option], from_run: bool = False
) -> None:
    """A flag for each option; for `train` (``from_run``) an option left out keeps the
    run's saved setting, so only what is given changes."""
    note = " (default: the run's setting)" if from_run else ""
    for option in options:
        text = option.help + _names(option.name) + note
        kwargs: dict[str, Any] = {
            "dest": option.dest,
            "default": None if from_run else option.default,
            "help": text.replace("%", "%%"),  # argparse formats help with %
        }
        if option.setting.negated:
            kwargs.update(action="store_true", default=None if from_run else False)
        elif option.kind.base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=_parser(option), metavar=option.setting.metavar,
                          choices=_choices(option))
            if option.setting.const is not None:
                kwargs.update(nargs="?", const=option.setting.const)
        p.add_argument(f"--{option.name}", **kwargs)


def _names(name: str) -> str:
    names = _NAMES.get(name)
    return f" (known: {', '.join(names())})" if names else ""


def _choices(option: Option) -> Sequence[str] | None:
    choices = _CHOICES.get(option.name)
    return choices() if choices else option.kind.choices


def _parser(option: Option) -> Callable[[str], Any]:
    base = option.kind.base
    if base is tuple:
        return comma_list
    if option.setting.unset is not None:
        return _number_or(option.name, option.setting.unset)
    parse: Callable[[str], Any] = base
    return parse


def _number_or(name: str, word: str) -> Callable[[str], float | None]:
    """A number, or ``word`` for None (``--prior-std empirical``)."""

    def parse(text: str) -> float | None:
        if text == word:
            return None
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--{name} takes a positive number or '{word}', got {text!r}"
            ) from None

    return parse


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> frozenset[str]:
    """The destinations of the options typed in ``argv`` (of every subcommand).

    ``parser`` loses its defaults: pass a freshly built one."""
    _drop_defaults(parser)
    return frozenset(vars(parser.parse_args(list(argv))))


def _drop_defaults(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _drop_defaults(sub)
        else:
            # argparse sets no attribute for an option that is absent and SUPPRESSed
            action.default = argparse.SUPPRESS


def typed_tables(
    args: argparse.Namespace, given: frozenset[str], options: Sequence[Option]
) -> dict[str, Any]:
    """The tables holding the ``given`` options of ``args``."""
    return option_tables({o: getattr(args, o.dest) for o in options if o.dest in given})


def search_run_config(
    args: argparse.Namespace, given: frozenset[str], file_tables: Mapping[str, Any] | None
) -> RunConfig:
    """The run `mdlnas search` was asked for: ``file_tables`` (or nothing) overridden by
    the ``given`` options of ``args``."""
    tables: dict[str, Any] = copy.deepcopy(dict(file_tables or {}))
    typed = typed_tables(args, given, search_options())
    if "space" in typed:
        tables["space"] = _space_table(tables.get("space", {}), typed.pop("space"))
    merged = merge(tables, typed)
    merged.setdefault("data", {}).setdefault("name", DEFAULT_DATA)
    return config_from_tables(merged)


def changed_run(run: RunConfig, typed: Mapping[str, Any]) -> RunConfig:
    """``run`` with the settings of the ``typed`` tables changed."""
    return config_from_tables(merge(config_tables(run), typed))


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in top.items():
        below = merged.get(name)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[name] = merge(below, value)
        else:
            merged[name] = value
    return merged


def _space_table(from_file: Mapping[str, Any], typed: Mapping[str, Any]) -> dict[str, Any]:
    """The [space] table when space options were typed. --space picks another preset, so
    nothing of the file's space is kept; other options change the file's space, which
    becomes a preset with settings (a complete space's dim and reduction_layers are
    re-derived by the preset, since --layers moves the reduction cells)."""
    if "name" in typed:
        return dict(typed)
    preset = {key: value for key, value in from_file.items() if key in PRESET_KEYS}
    return {**preset, **typed}
