"""Config files: `mdlnas config --defaults` prints a complete, commented file that loads
back to the defaults; `--config FILE` is overridden by the options typed, and only by
those; the resolved config lands in the run directory."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from mdlnas import tomlio
from mdlnas.cli import build_parser, main
from mdlnas.cli.options import given_options, search_run_config
from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError
from mdlnas.space.presets import SpaceOverrides
from mdlnas.workflow import RunConfig, config_tables, load_run_config
from mdlnas.workflow.config_file import load_config_file, option_help
from mdlnas.workflow.options import search_options
from mdlnas.workflow.run_config import PRESET_KEYS, default_run_config


def resolve(*argv: str) -> RunConfig:
    """The RunConfig `mdlnas search ARGV` would run, without running it."""
    args = build_parser().parse_args(["search", *argv])
    given = given_options(build_parser(), ["search", *argv])
    tables = load_config_file(args.config) if args.config is not None else None
    return search_run_config(args, given, tables)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_printed_defaults_load_back_to_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "--defaults"]) == 0
    text = capsys.readouterr().out
    path = write(tmp_path / "defaults.toml", text)
    assert resolve("--config", str(path)) == default_run_config() == resolve()


def test_every_table_and_option_of_the_defaults_has_a_comment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "--defaults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    tables = {"data", "space", "search", "search.bayes", "train", "train.bayes"}
    unset = re.compile(r"# (\w+) = \(unset\)")
    seen_tables, seen_keys = set(), 0
    for i, line in enumerate(lines):
        header = re.fullmatch(r"\[([\w.]+)\]", line)
        key = re.match(r"(\w+) = ", line) or unset.fullmatch(line)
        if header:
            seen_tables.add(header.group(1))
        if header or key:
            above = lines[i - 1]
            assert above.startswith("# ") and not unset.fullmatch(above), line
            seen_keys += bool(key)
    assert seen_tables == tables
    fields = sum(len(dataclasses.fields(c)) for c in (DataConfig, SearchConfig, TrainConfig))
    # every field of data, search and train (bayes is a table), 6 preset space keys
    n_bayes = len(dataclasses.fields(BayesConfig))  # twice: search and train
    assert seen_keys == fields - 2 + len(PRESET_KEYS) + 2 * n_bayes


def test_help_covers_every_setting_and_nothing_else() -> None:
    expected = {"data", "space", "search", "train", "search.bayes", "train.bayes"}
    for table, cls in [("data", DataConfig), ("space", SpaceConfig), ("space", SpaceOverrides),
                       ("search", SearchConfig), ("train", TrainConfig),
                       ("search.bayes", BayesConfig), ("train.bayes", BayesConfig)]:
        expected |= {f"{table}.{f.name}" for f in dataclasses.fields(cls) if f.name != "bayes"}
    assert set(option_help()) == expected


def test_every_search_option_maps_to_a_setting() -> None:
    search = next(p for name, p in _subparsers() if name == "search")
    settings = {a.dest for a in search._actions} - {
        "help", "config", "out", "search_only", "retrain", "resume", "no_plots", "tensorboard",
        "quiet", "json", "debug"}
    assert settings == {o.dest for o in search_options()}


def _subparsers() -> list[tuple[str, object]]:
    import argparse

    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return list(action.choices.items())


def test_typed_options_override_the_file_and_only_they(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", """
[data]
name = "wine"
seed = 4
[space]
channels = 8
[search]
lam = 0.5
max_epochs = 3
[search.bayes]
prior_std = "empirical"
[train]
epochs = 2
""")
    run = resolve("--config", str(path))
    assert (run.data.name, run.data.seed, run.search.lam, run.search.max_epochs) == (
        "wine", 4, 0.5, 3)
    assert run.overrides.channels == 8 and run.search.bayes.prior_std is None
    assert run.train.epochs == 2 and run.search.seed == 0  # the file set only the data's
    # typed with the default's own value, an option still overrides the file
    run = resolve("--config", str(path), "--lam", "1.0", "--seed", "7", "--train-epochs", "30",
                  "--deterministic", "--prior-std", "2")
    assert run.search.lam == 1.0 and run.train.epochs == 30
    assert run.data.seed == run.search.seed == run.train.seed == 7
    assert run.search.bayes.variational is False and run.train.bayes.variational is True
    assert run.search.bayes.prior_std == run.train.bayes.prior_std == 2.0
    assert run.search.max_epochs == 3 and run.data.name == "wine"  # untouched: the file's


def test_a_run_directorys_config_repeats_the_run_and_takes_space_options(
    tmp_path: Path,
) -> None:
    saved = RunConfig(data=DataConfig("iris", seed=2),
                      space=SpaceConfig("conv1d", 1, ("conv_3", "zero"), 2, 3, 8, (1, 2)),
                      search=SearchConfig(lam=0.25))
    path = tmp_path / "config.toml"
    tomlio.write(path, config_tables(saved))
    assert resolve("--config", str(path)) == saved
    # a space option turns the complete space into its preset with that change
    run = resolve("--config", str(path), "--layers", "2")
    assert run.space is None and run.space_name == "conv1d"
    assert run.overrides == SpaceOverrides(2, 2, 8, ("conv_3", "zero"), 2, 1)
    # --space picks another preset: nothing of the file's space is kept
    run = resolve("--config", str(path), "--space", "mlp")
    assert run.space is None and run.space_name == "mlp" and run.overrides == SpaceOverrides()


def test_search_with_a_config_saves_the_resolved_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "c.toml", '[data]\nname = "iris"\n[search]\nmax_epochs = 1\n'
                 "lam = 0.5\n[space]\nchannels = 4\n")
    out = tmp_path / "run"
    args = ["search", "--config", str(path), "--lam", "0.25", "--search-only", "--no-plots",
            "--quiet", "--json", "--out", str(out)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    saved = load_run_config(out)
    assert saved.search.lam == 0.25 and saved.search.max_epochs == 1
    assert saved.space is not None and saved.space.channels == 4 and saved.space.name == "mlp"


def test_config_completes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "c.toml", "[search]\nxi = 0.1\n")
    assert main(["config", str(path)]) == 0
    text = capsys.readouterr().out
    assert "xi = 0.1" in text and 'name = "mnist1d"' in text and "# prior_std" not in text
    assert main(["config", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["search"]["xi"] == 0.1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[serach]\nlam = 1\n", "unknown table(s) serach"),
        ("[search]\nlamda = 1\n", "unknown option(s) lamda in [search]"),
        ("[search]\nlam = -1\n", "lam must be zero or positive"),
        ("[train]\nlr = 0\n", "lr must be positive"),
        ("[space]\nname = \"transformer\"\n", "transformer"),
        ("[space]\nwidth = 3\n", "unknown option(s) width in [space]"),
        ("[search\n", "cannot read config file"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path / "bad.toml", text)
    assert main(["search", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mdlnas: error: ") and err.count("\n") == 1
    assert expected in err and str(path) in err
    assert not (tmp_path / "o").exists()


def test_config_needs_defaults_or_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 2
    assert "--defaults" in capsys.readouterr().err


def test_resume_refuses_a_config_and_options_typed_with_default_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["search", "--data", "iris", "--epochs", "1", "--search-only", "--no-plots",
                 "--quiet", "--out", str(run)]) == 0
    for extra in (["--config", str(run / "config.toml")], ["--lam", "1.0"]):
        assert main(["search", "--resume", str(run), *extra]) == 2
        assert f"drop {extra[0]}" in capsys.readouterr().err


def test_load_config_file_rejects_a_table_that_is_a_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[search\] must be a table"):
        load_config_file(write(tmp_path / "c.toml", "search = 3\n"))
