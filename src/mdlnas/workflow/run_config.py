"""What one run is: :class:`RunConfig`, and its form as TOML tables.

A run directory's ``config.toml`` and a ``--config`` file hold the same tables: [data],
[space], [search] (+ [search.bayes]) and [train] (+ [train.bayes]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError
from mdlnas.space.presets import SPACES, SpaceOverrides


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; saved as the run directory's ``config.toml``."""

    data: DataConfig
    space: SpaceConfig | None = None  # None: chosen from the data (tabular → mlp, ...)
    space_name: str | None = None
    overrides: SpaceOverrides = field(default_factory=SpaceOverrides)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def retraining(self) -> TrainConfig:
        """The retraining's settings, its unset λ being the search's (one λ sets the
        whole trade-off)."""
        if self.train.lam is not None:
            return self.train
        return replace(self.train, lam=self.search.lam)

    def retraining_data(self) -> DataConfig:
        """The search's data, with as many training rows as the retraining asks for."""
        n_train = self.train.n_train
        if n_train is None:
            return self.data
        return replace(self.data, n_train=None if n_train == 0 else n_train)


def _bayes_table(b: BayesConfig) -> dict[str, Any]:
    table = asdict(b)
    # TOML has no null: the empirical-Bayes prior is spelled out.
    table["prior_std"] = "empirical" if b.prior_std is None else b.prior_std
    return table


def _bayes_from(table: Mapping[str, Any]) -> BayesConfig:
    table = dict(table)
    if table.get("prior_std") == "empirical":
        table["prior_std"] = None
    return BayesConfig(**_known(BayesConfig, table, "bayes"))


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


def config_tables(run: RunConfig) -> dict[str, Any]:
    """The run as TOML tables: [data], [space], [search] (+ [search.bayes]), [train]
    (+ [train.bayes]). Unset options are ``None``; tomlio writes them commented out."""
    search = asdict(run.search)
    search["bayes"] = _bayes_table(run.search.bayes)
    train = asdict(run.train)
    train["bayes"] = _bayes_table(run.train.bayes)
    if run.space is not None:
        space = asdict(run.space)
    else:
        space = {"name": run.space_name, **asdict(run.overrides)}
    return {"data": asdict(run.data), "space": space, "search": search, "train": train}


def config_from_tables(tables: Mapping[str, Any]) -> RunConfig:
    for name in ("data", "space", "search", "train"):
        if name in tables and not isinstance(tables[name], Mapping):
            raise ConfigError(f"[{name}] must be a table of options, got {tables[name]!r}")
    try:
        data = DataConfig(**_known(DataConfig, tables["data"], "data"))
    except KeyError:
        raise ConfigError("the config has no [data] table naming the dataset") from None
    space, space_name, overrides = _space_from(tables.get("space", {}))
    search_raw = dict(tables.get("search", {}))
    search_bayes = _bayes_from(search_raw.pop("bayes", {}))
    search = SearchConfig(**_known(SearchConfig, search_raw, "search"), bayes=search_bayes)
    train_raw = dict(tables.get("train", {}))
    try:
        train_bayes = _bayes_from(train_raw.pop("bayes", {}))
        train = TrainConfig(**_known(TrainConfig, train_raw, "train"), bayes=train_bayes)
    except ConfigError as exc:  # "lr must be positive" alone would point at the search's
        raise ConfigError(
            f"{exc} (a retraining setting: see the --train-* options, or [train] in a "
            "config file)"
        ) from None
    return RunConfig(data=data, space=space, space_name=space_name, overrides=overrides,
                     search=search, train=train)


def _space_from(
    table: Mapping[str, Any],
) -> tuple[SpaceConfig | None, str | None, SpaceOverrides]:
    """(complete space, preset name, overrides) of a [space] table; see PRESET_KEYS."""
    raw = dict(table)
    for key in ("ops", "reduction_layers"):
        if isinstance(raw.get(key), list):
            raw[key] = tuple(raw[key])
    if "dim" in raw:
        return SpaceConfig(**_known(SpaceConfig, raw, "space")), None, SpaceOverrides()
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
