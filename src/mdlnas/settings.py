"""One declaration per setting: a config dataclass field with its default, help and bounds.

A field declared with :func:`setting` carries a :class:`Setting` in its metadata. From
these declarations :mod:`mdlnas.workflow.options` generates the options of ``mdlnas
search`` (flags and help), the keys and comments of config files and ``mdlnas config
--defaults``, and the estimators' parameters; :func:`check_settings` checks the declared
bounds and choices. A new setting is one field: declare it, and everything else follows.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, Literal

from mdlnas.errors import ConfigError

Check = Callable[[str, object], None]  # (field name, value): raises ConfigError if bad
_KEY = "mdlnas.setting"


@dataclass(frozen=True)
class Setting:
    """What a field means to the user and how they set it.

    ``help`` says what the setting does (the option's help and the config file's comment).
    ``flag`` is the option of ``mdlnas search`` without ``--`` (None: config files only);
    a field of the [train] table gets the flag ``train-FLAG``, unless ``shared``: then one
    flag sets the field in every table that has it (``--seed``, ``--prior-std``).
    ``negated``: the flag is a switch that sets the field to false (``--deterministic``).
    ``unset``: how a config file spells None, which TOML cannot (``"empirical"``); the
    option takes the word too. ``bounds`` checks a value that is not None; ``cli_help``
    replaces ``help`` on a flag that sets several tables' fields at once.
    """

    help: str
    flag: str | None = None
    shared: bool = False
    negated: bool = False
    unset: str | None = None
    bounds: Check | None = None
    cli_help: str | None = None
    metavar: str | None = None
    const: Any = None  # the value of the flag typed without one (--signal)


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, **declared: Any) -> Any:
    """A dataclass field declared as a setting (see :class:`Setting` for ``declared``)."""
    metadata = {_KEY: Setting(**declared)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def setting_of(field: dataclasses.Field[Any]) -> Setting | None:
    declared = field.metadata.get(_KEY)
    return declared if isinstance(declared, Setting) else None


@dataclass(frozen=True)
class Kind:
    """A field's type as settings see it: ``base`` (int, float, str, bool, tuple or a
    config dataclass), whether None is allowed, and the choices of a ``Literal``."""

    base: type
    optional: bool
    choices: tuple[str, ...] | None


def kinds(cls: type) -> dict[str, Kind]:
    """The :class:`Kind` of every field of the dataclass ``cls``."""
    return _kinds(cls)


@functools.cache  # configs are made often; their types never change
def _kinds(cls: type) -> dict[str, Kind]:
    hints = typing.get_type_hints(cls)
    return {f.name: _kind(hints[f.name]) for f in dataclasses.fields(cls)}


def _kind(hint: Any) -> Kind:
    args = typing.get_args(hint)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        optional = type(None) in args
        (hint,) = [a for a in args if a is not type(None)]
    if typing.get_origin(hint) is Literal:
        return Kind(str, optional, tuple(typing.get_args(hint)))
    base = typing.get_origin(hint) or hint  # tuple[str, ...] -> tuple
    return Kind(base, optional, None)


def check_settings(config: object) -> None:
    """Refuse a value of ``config``'s declared settings that is not of its kind (a switch,
    a choice) or outside its bounds, naming the field (values also arrive from
    hand-edited files, not only from typed code)."""
    cls: type = type(config)
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        declared = setting_of(field)
        if declared is None:
            continue
        kind = kinds(cls)[field.name]
        value = getattr(config, field.name)
        if value is None and kind.optional:
            continue
        if kind.choices is not None and value not in kind.choices:
            spelled = " or ".join(repr(c) for c in kind.choices)
            raise ConfigError(f"{field.name} must be {spelled}, got {value!r}")
        if kind.base is bool and not isinstance(value, bool):
            raise ConfigError(f"{field.name} must be true or false, got {value!r}")
        if declared.bounds is not None:
            declared.bounds(field.name, value)
