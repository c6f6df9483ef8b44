"""The options of a run, generated from the settings declared on the config dataclasses.

Every field declared with :func:`mdlnas.settings.setting` is a key of the run's TOML
tables; a field with a ``flag`` is also an :class:`Option`: a flag of ``mdlnas search``
(and, for the [train] table, of ``mdlnas train``) and a parameter of the scikit-learn
estimators. One option may set several keys: ``--seed`` every table's seed, ``--prior-std``
both tables' priors.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mdlnas.config import SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.settings import Kind, Setting, kinds, setting_of
from mdlnas.workflow.run_config import config_tables, default_run_config

Key = tuple[str, ...]  # a path into the config tables, e.g. ("search", "bayes", "prior_std")

# The run's tables and the config dataclass each holds (a nested config is a table in it).
TABLES: dict[str, type] = {
    "data": DataConfig, "space": SpaceConfig, "search": SearchConfig, "train": TrainConfig,
}
# The [train] table's flags carry this prefix in `mdlnas search` and lose it in `mdlnas train`.
TRAIN_PREFIX = "train-"


@dataclass(frozen=True)
class Declared:
    """One key of the tables and its declaration."""

    key: Key
    setting: Setting
    kind: Kind

    @property
    def dotted(self) -> str:
        return ".".join(self.key)


@dataclass(frozen=True)
class Option:
    """A setting the user types: ``--name``, or ``name`` (``-`` as ``_``) in Python."""

    name: str
    keys: tuple[Key, ...]
    setting: Setting  # the first key's declaration
    kind: Kind
    default: Any  # the value `mdlnas search` runs with, in the option's terms
    help: str

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def table_value(self, value: Any) -> Any:
        """``value`` of the option as its keys hold it."""
        if self.setting.negated:
            return not value
        if value is None and self.setting.unset is not None:
            return self.setting.unset
        return value

    def option_value(self, value: Any) -> Any:
        """A key's ``value`` in the option's terms (the inverse of :meth:`table_value`)."""
        if self.setting.negated:
            return not value
        if self.setting.unset is not None and value == self.setting.unset:
            return None
        return value


def declared_keys() -> Iterator[Declared]:
    """Every declared setting of the tables, in the order a config file lists them."""
    for table, cls in TABLES.items():
        yield from _declared((table,), cls)


def _declared(prefix: Key, cls: type) -> Iterator[Declared]:
    nested = []
    for f in dataclasses.fields(cls):
        kind = kinds(cls)[f.name]
        declared = setting_of(f)
        if dataclasses.is_dataclass(kind.base):
            nested.append((f.name, kind.base))  # a table comes after the plain keys
        elif declared is not None:
            yield Declared((*prefix, f.name), declared, kind)
    for name, table in nested:
        yield from _declared((*prefix, name), table)


def _flag(d: Declared) -> str | None:
    if d.setting.flag is None:
        return None
    if d.key[0] == "train" and not d.setting.shared:
        return TRAIN_PREFIX + d.setting.flag
    return d.setting.flag


@functools.cache
def search_options() -> tuple[Option, ...]:
    """The options of ``mdlnas search``, one per flag, in declaration order."""
    grouped: dict[str, list[Declared]] = {}
    for d in declared_keys():
        flag = _flag(d)
        if flag is not None:
            grouped.setdefault(flag, []).append(d)
    defaults = config_tables(default_run_config())
    options = []
    for name, keys in grouped.items():
        first = keys[0]
        option = Option(
            name=name, keys=tuple(d.key for d in keys), setting=first.setting, kind=first.kind,
            default=None, help=first.setting.cli_help or first.setting.help,
        )
        default = option.option_value(_at(defaults, first.key))
        options.append(dataclasses.replace(option, default=default))
    return tuple(options)


def train_options() -> tuple[Option, ...]:
    """The options of ``mdlnas train``: the [train] table's, without their prefix."""
    return tuple(
        dataclasses.replace(o, name=o.name.removeprefix(TRAIN_PREFIX))
        for o in search_options() if o.name.startswith(TRAIN_PREFIX)
    )


def option_tables(values: Mapping[Option, Any]) -> dict[str, Any]:
    """Tables holding each option's value at its keys."""
    tables: dict[str, Any] = {}
    for option, value in values.items():
        for key in option.keys:
            table = tables
            for name in key[:-1]:
                table = table.setdefault(name, {})
            table[key[-1]] = option.table_value(value)
    return tables


def _at(tables: Mapping[str, Any], key: Key) -> Any:
    value: Any = tables
    for name in key:
        value = value[name]
    return value
