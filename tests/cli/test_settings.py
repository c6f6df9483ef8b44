"""Every setting is declared once, on its config dataclass field; the flags of `mdlnas
search` and `mdlnas train`, the keys and comments of `mdlnas config --defaults` and the
estimators' parameters are made from the declarations, so they agree by construction.
These tests check that they do."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import pytest

from mdlnas import tomlio
from mdlnas.cli import build_parser, main
from mdlnas.config import SearchConfig
from mdlnas.errors import ConfigError
from mdlnas.workflow.config_file import option_help
from mdlnas.workflow.options import TRAIN_PREFIX, declared_keys, search_options, train_options


def _command(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = action.choices[name]
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: a for a in parser._actions for flag in a.option_strings}


def _at(tables: dict[str, object], key: tuple[str, ...]) -> object:
    value: object = tables
    for name in key:
        assert isinstance(value, dict), key
        value = value[name]
    return value


def test_cli_flags_toml_keys_defaults_and_estimator_parameters_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    from mdlnas.estimators import MDLNASClassifier, MDLNASRegressor

    assert main(["config", "--defaults"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "defaults.toml"
    path.write_text(text, encoding="utf-8")
    defaults = tomlio.load(path)
    comments = option_help()  # what config_text writes above each key
    search = _flags(_command("search"))
    train = _flags(_command("train"))
    estimator = inspect.signature(MDLNASClassifier).parameters
    assert inspect.signature(MDLNASRegressor).parameters == estimator
    for option in search_options():
        # the flag of `mdlnas search`, with the option's default
        action = search[f"--{option.name}"]
        assert action.dest == option.dest
        assert action.default == (False if option.setting.negated else option.default)
        # each key the option sets is in the default config file, with the same default
        # (a commented-out key is unset: None)
        for key in option.keys:
            try:
                value = _at(defaults, key)
            except KeyError:
                value = None
            assert option.option_value(value) == option.default, (option.name, key)
            # and its comment (the text above it) names the flag
            assert f"[--{option.name}" in comments[".".join(key)], (option.name, key)
        # the estimators' parameter of the same name and default (data and seed excepted)
        if option.dest in estimator:
            assert estimator[option.dest].default == option.default, option.name
    # `mdlnas train` has the [train] table's flags without their prefix, unset by default
    for option in train_options():
        assert train[f"--{option.name}"].default is None
    assert {o.name for o in train_options()} == {
        o.name.removeprefix(TRAIN_PREFIX) for o in search_options()
        if o.name.startswith(TRAIN_PREFIX)}


def test_the_estimators_take_every_search_option_but_the_datas_and_the_seed() -> None:
    pytest.importorskip("sklearn")
    from mdlnas.estimators import MDLNASClassifier

    parameters = set(inspect.signature(MDLNASClassifier).parameters) - {"self"}
    options = {o.dest for o in search_options()}
    assert options - parameters == {"data", "target", "data_dir", "n_train", "train_n_train",
                                    "seed"}
    assert parameters - options == {"val_fraction", "random_state", "verbose"}
    # the defaults the CLI runs with: search epochs unset (20 for one λ, 32 for a family),
    # 150 of retraining
    params = MDLNASClassifier().get_params()
    assert (params["epochs"], params["train_epochs"]) == (None, 150)
    assert SearchConfig().epoch_limit == 20
    assert SearchConfig(lam_range="0.1:10").epoch_limit == 32
    assert SearchConfig(max_weights=800).epoch_limit == 32
    assert SearchConfig(lam_range="0.1:10", max_epochs=5).epoch_limit == 5


def test_every_config_field_is_declared_with_help() -> None:
    for declared in declared_keys():
        assert declared.setting.help.strip(), declared.dotted
        assert not declared.setting.help.endswith("."), declared.dotted  # a comment, no full stop


def test_declared_bounds_and_choices_are_checked() -> None:
    from mdlnas.config import SearchConfig, TrainConfig

    with pytest.raises(ConfigError, match="patience must be a positive integer, got 0"):
        SearchConfig(patience=0)
    with pytest.raises(ConfigError, match="derive must be 'mdl' or 'darts', got 'top'"):
        SearchConfig(derive="top")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="refit must be true or false, got 1"):
        TrainConfig(refit=1)  # type: ignore[arg-type]
    TrainConfig(lam=None, batch_size=None)  # optional settings may be unset


def test_a_typed_option_is_written_where_its_declaration_says() -> None:
    from mdlnas.cli.options import given_options, search_run_config

    argv = ["search", "--seed", "3", "--train-deterministic", "--prior-std", "empirical",
            "--train-refit", "--no-train-refit"]
    args = build_parser().parse_args(argv)
    run = search_run_config(args, given_options(build_parser(), argv), None)
    assert run.data.seed == run.search.seed == run.train.seed == 3
    assert run.search.bayes.variational and not run.train.bayes.variational
    assert run.train.bayes.prior_std is None and run.train.refit is False
