"""Run configs survive the trip through config.toml exactly."""

from __future__ import annotations

import sys

import pytest

from mdlnas import tomlio
from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError
from mdlnas.workflow import RunConfig, config_from_tables, config_tables

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


@pytest.mark.parametrize("prior", [1.0, 0.3, None])
def test_run_config_round_trips_through_toml(prior: float | None) -> None:
    run = RunConfig(
        data=DataConfig(name="wine", seed=3, n_train=50),
        space=SpaceConfig("conv1d", 1, ("conv_3", "zero"), 2, 3, 8, (1, 2)),
        search=SearchConfig(
            lam=0.5,
            xi=0.01,
            hypergradient="fd",
            bayes=BayesConfig(prior_std=prior, init_sigma=0.01),
        ),
        train=TrainConfig(epochs=7, bayes=BayesConfig(variational=False)),
    )
    text = tomlio.dumps(config_tables(run))
    assert config_from_tables(tomllib.loads(text)) == run


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="warp"):
        config_from_tables({"data": {"name": "iris"}, "search": {"warp": 9}})
    with pytest.raises(ConfigError, match=r"\[data\]"):
        config_from_tables({"search": {}})
