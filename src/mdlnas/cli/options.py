"""How the options of ``mdlnas search`` become a :class:`~mdlnas.workflow.RunConfig`.

Precedence: the defaults, then a config file (``--config``), then the options the user
actually typed. "Typed" matters: an option left at its argparse default must not undo the
file, and one typed with the default's value must still override it, so typed options
are found by parsing the command line again with every default removed.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping, Sequence
from typing import Any

from mdlnas.config import TrainConfig
from mdlnas.workflow.config_file import DEFAULT_DATA
from mdlnas.workflow.run_config import PRESET_KEYS, RunConfig, config_from_tables

Key = tuple[str, ...]  # a path into the config tables, e.g. ("search", "bayes", "prior_std")

# Where each option of `mdlnas search` lands; options that set several settings at once
# (--seed, --device, the prior of the weights) name every one.
SEARCH_OPTION_KEYS: dict[str, tuple[Key, ...]] = {
    "data": (("data", "name"),),
    "target": (("data", "target"),),
    "signal": (("data", "signal"),),
    "impute": (("data", "impute"),),
    "data_dir": (("data", "data_dir"),),
    "n_train": (("data", "n_train"),),
    "space": (("space", "name"),),
    "nodes": (("space", "n_nodes"),),
    "layers": (("space", "layers"),),
    "channels": (("space", "channels"),),
    "growth": (("space", "channel_growth"),),
    "ops": (("space", "ops"),),
    "lam": (("search", "lam"),),
    "xi": (("search", "xi"),),
    "hypergradient": (("search", "hypergradient"),),
    "epochs": (("search", "max_epochs"),),
    "warmup": (("search", "warmup_epochs"),),
    "calibrate": (("search", "calibration_epochs"),),
    "calibration_tol": (("search", "calibration_tol"),),
    "tol": (("search", "tol"),),
    "patience": (("search", "patience"),),
    "batch_size": (("search", "batch_size"),),
    "w_lr": (("search", "w_lr"),),
    "alpha_lr": (("search", "alpha_lr"),),
    "derive": (("search", "derive"),),
    "deterministic": (("search", "bayes", "variational"),),
    "prior_std": (("search", "bayes", "prior_std"), ("train", "bayes", "prior_std")),
    "sigma_lr": (("search", "bayes", "sigma_lr"), ("train", "bayes", "sigma_lr")),
    "init_sigma": (("search", "bayes", "init_sigma"), ("train", "bayes", "init_sigma")),
    "sigma_init": (("search", "bayes", "sigma_init"), ("train", "bayes", "sigma_init")),
    "prior_mean": (("search", "bayes", "prior_mean"), ("train", "bayes", "prior_mean")),
    "seed": (("data", "seed"), ("search", "seed"), ("train", "seed")),
    "device": (("search", "device"), ("train", "device")),
    "train_epochs": (("train", "epochs"),),
    "train_lr": (("train", "lr"),),
    "train_batch_size": (("train", "batch_size"),),
    "train_lam": (("train", "lam"),),
    "train_n_train": (("train", "n_train"),),
    "train_schedule": (("train", "schedule"),),
    "train_weight_decay": (("train", "weight_decay"),),
    "train_refit": (("train", "refit"),),
    "train_deterministic": (("train", "bayes", "variational"),),
}

# Flags that switch variational weights off: typed, they set variational = false.
_POINT_WEIGHT_FLAGS = {"deterministic", "train_deterministic"}


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


def search_run_config(
    args: argparse.Namespace, given: frozenset[str], file_tables: Mapping[str, Any] | None
) -> RunConfig:
    """The run `mdlnas search` was asked for: ``file_tables`` (or nothing) overridden by
    the ``given`` options of ``args``."""
    tables: dict[str, Any] = copy.deepcopy(dict(file_tables or {}))
    typed: dict[str, Any] = {}
    for dest in sorted(given & SEARCH_OPTION_KEYS.keys()):
        value = _table_value(dest, getattr(args, dest))
        for key in SEARCH_OPTION_KEYS[dest]:
            _put(typed, key, value)
    if "space" in typed:
        tables["space"] = _space_table(tables.get("space", {}), typed.pop("space"))
    merged = _merge(tables, typed)
    merged.setdefault("data", {}).setdefault("name", DEFAULT_DATA)
    return config_from_tables(merged)


def _table_value(dest: str, value: Any) -> Any:
    if dest in _POINT_WEIGHT_FLAGS:
        return not value
    if dest == "prior_std" and value is None:
        return "empirical"  # how the tables spell the empirical-Bayes prior
    return value


def _put(tables: dict[str, Any], key: Key, value: Any) -> None:
    for name in key[:-1]:
        tables = tables.setdefault(name, {})
    tables[key[-1]] = value


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in top.items():
        below = merged.get(name)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[name] = _merge(below, value)
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
def add_train_options(
    p: argparse.ArgumentParser, prefix: str = "", from_run: bool = False
) -> None:
    """Retraining options; for `train` (``from_run``) an option left out keeps the run's
    saved setting, so only what is given changes."""
    d = TrainConfig()

    def default(value: Any) -> Any:
        return None if from_run else value

    note = " (default: the run's setting)" if from_run else ""
    p.add_argument(
        f"--{prefix}epochs",
        type=int,
        default=default(d.epochs),
        help="epochs of retraining from scratch" + note,
    )
    p.add_argument(
        f"--{prefix}lr", type=float, default=default(d.lr), help="retraining learning rate" + note
    )
    p.add_argument(
        f"--{prefix}batch-size",
        type=int,
        default=default(d.batch_size),
        help="retraining batch size (unset: a tenth of the training rows, 16 to 64)" + note,
    )
    p.add_argument(
        f"--{prefix}lam",
        type=float,
        default=default(d.lam),
        help="weight of the description length while retraining variationally "
        "(unset: the search's λ)" + note,
    )
    p.add_argument(
        f"--{prefix}n-train",
        type=int,
        default=None,
        help="training rows for retraining: 0 takes all of them (search on a subset with "
        "--n-train, retrain on everything); the test part stays the same"
        + (note or " (default: the search's)"),
    )
    p.add_argument(
        f"--{prefix}deterministic",
        action="store_const",
        const=True,
        default=default(False),
        help="retrain with point weights instead of variational ones" + note,
    )
    p.add_argument(
        f"--{prefix}schedule",
        choices=("cosine", "onecycle"),
        default=default(d.schedule),
        help="learning rate over the retraining: cosine down to 0, or one cycle (up in the "
        "first 30%% of the steps, then down)" + note,
    )
    p.add_argument(
        f"--{prefix}weight-decay",
        type=float,
        default=default(d.weight_decay),
        help="decoupled weight decay (AdamW) of the weights, never of their widths σ" + note,
    )
    p.add_argument(
        f"--{prefix}refit",
        action=argparse.BooleanOptionalAction,
        default=default(d.refit),
        help="retrain on the training and validation rows together and keep the last "
        "epoch, instead of keeping the epoch of best validation NLL" + note,
    )


def train_changes(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The retraining options the user gave, by TrainConfig field name."""
    names = ("epochs", "lr", "batch_size", "lam", "n_train", "schedule", "weight_decay",
             "refit")
    values = {name: getattr(args, prefix + name) for name in names}
    return {name: value for name, value in values.items() if value is not None}


