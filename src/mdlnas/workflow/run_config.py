"""What one run is: :class:`RunConfig`, and its form as TOML tables.

A run directory's ``config.toml`` and a ``--config`` file hold the same tables: [data],
[space], [search] (+ [search.bayes]) and [train] (+ [train.bayes]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, TypeVar

from mdlnas.config import SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError
from mdlnas.settings import kinds, setting_of
from mdlnas.space.presets import SPACES, SpaceOverrides

Config = TypeVar("Config")
# What `mdlnas search` searches when neither the command line nor a file names the data.
DEFAULT_DATA = "mnist1d"


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; saved as the run directory's ``config.toml``."""

    data: DataConfig
    space: SpaceConfig | None = None  # None: chosen from the data (tabular → mlp, ...)
    space_name: str | None = None
    overrides: SpaceOverrides = field(default_factory=SpaceOverrides)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def retraining(self, chosen_lam: float | None = None) -> TrainConfig:
        """The retraining's settings, its unset λ being the search's (one λ sets the
        whole trade-off); in a family search, ``chosen_lam``: the λ of the chosen network."""
        if self.train.lam is not None:
            return self.train
        return replace(self.train, lam=self.search.lam if chosen_lam is None else chosen_lam)

    def retraining_data(self) -> DataConfig:
        """The search's data, with as many training rows as the retraining asks for."""
        n_train = self.train.n_train
        if n_train is None:
            return self.data
        return replace(self.data, n_train=None if n_train == 0 else n_train)


def _table(config: Any) -> dict[str, Any]:
    """A config dataclass as a TOML table; a nested config is a table inside it. TOML has
    no null: a setting that declares a word for None (``prior_std = "empirical"``) is
    written with it."""
    table = {}
    for f in fields(config):
        value = getattr(config, f.name)
        declared = setting_of(f)
        if is_dataclass(value):
            value = _table(value)
        elif value is None and declared is not None and declared.unset is not None:
            value = declared.unset
        table[f.name] = value
    return table


def _from_table(cls: type[Config], table: Mapping[str, Any], where: str) -> Config:
    """The config ``cls`` of a TOML table (see :func:`_table`); an unknown key is an error
    that lists the valid ones."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{where}] must be a table of options, got {table!r}")
    values = _known(cls, table, where)
    for f in fields(cls):  # type: ignore[arg-type]
        declared, kind = setting_of(f), kinds(cls)[f.name]
        if f.name not in values:
            continue
        if is_dataclass(kind.base):
            values[f.name] = _from_table(kind.base, values[f.name], f"{where}.{f.name}")
        elif declared is not None and declared.unset is not None:
            if values[f.name] == declared.unset:
                values[f.name] = None
        elif kind.base is tuple and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    return cls(**values)


def _known(cls: type, table: Mapping[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in [{where}]; "
            f"valid: {', '.join(sorted(names))}"
        )
    return dict(table)


# A [space] table either describes a space completely (it has ``dim``; run directories
# save it so) or picks a preset by ``name`` and changes some of its settings (these keys,
# which are SpaceOverrides' fields and SpaceConfig's names for them).
PRESET_KEYS = ("name", *(f.name for f in fields(SpaceOverrides)))


def default_run_config() -> RunConfig:
    """What `mdlnas search` runs with no options and no file."""
    return RunConfig(data=DataConfig(name=DEFAULT_DATA))


def config_tables(run: RunConfig) -> dict[str, Any]:
    """The run as TOML tables: [data], [space], [search] (+ [search.bayes]), [train]
    (+ [train.bayes]). Unset options are ``None``; tomlio writes them commented out."""
    if run.space is not None:
        space = _table(run.space)
    else:
        space = {"name": run.space_name, **asdict(run.overrides)}
    return {"data": _table(run.data), "space": space, "search": _table(run.search),
            "train": _table(run.train)}


def config_from_tables(tables: Mapping[str, Any]) -> RunConfig:
    for name in ("data", "space", "search", "train"):
        if name in tables and not isinstance(tables[name], Mapping):
            raise ConfigError(f"[{name}] must be a table of options, got {tables[name]!r}")
    if "data" not in tables:
        raise ConfigError("the config has no [data] table naming the dataset")
    data = _from_table(DataConfig, tables["data"], "data")
    space, space_name, overrides = _space_from(tables.get("space", {}))
    search = _from_table(SearchConfig, tables.get("search", {}), "search")
    try:
        train = _from_table(TrainConfig, tables.get("train", {}), "train")
    except ConfigError as exc:  # "lr must be positive" alone would point at the search's
        raise ConfigError(
            f"{exc} (a retraining setting: see the --train-* options (train_* of the "
            "estimators), or [train] in a config file)"
        ) from None
    return RunConfig(data=data, space=space, space_name=space_name, overrides=overrides,
                     search=search, train=train)


def _space_from(
    table: Mapping[str, Any],
) -> tuple[SpaceConfig | None, str | None, SpaceOverrides]:
    """(complete space, preset name, overrides) of a [space] table; see PRESET_KEYS."""
    raw = dict(table)
    if "dim" in raw:
        return _from_table(SpaceConfig, raw, "space"), None, SpaceOverrides()
    if isinstance(raw.get("ops"), list):
        raw["ops"] = tuple(raw["ops"])
    unknown = sorted(set(raw) - set(PRESET_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in [space]; a preset takes "
            f"{', '.join(PRESET_KEYS)} (a complete space also needs dim)"
        )
    name = raw.pop("name", None)
    if name is not None:
        if not isinstance(name, str):
            raise ConfigError(f"[space] name must be a search space's name, got {name!r}")
        SPACES.get(name)  # an unknown name fails now, listing the valid ones
    return None, name, SpaceOverrides(**raw)
