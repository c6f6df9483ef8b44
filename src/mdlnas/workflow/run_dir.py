"""The run directory: the names of its files, and reading and writing them.

``mdlnas search`` writes ``config.toml`` (everything needed to repeat or continue the
run), ``genotype.json``, ``encoding.json`` (for a table: how its columns became features,
see :mod:`mdlnas.data.encoding`), ``summary.json``, ``metrics.csv`` and ``alphas.csv`` (per
epoch, see :mod:`mdlnas.report.run_files`) and ``checkpoints/``; retraining adds
``model.pt``, ``eval.json`` and ``train_history.csv``; ``plots/`` is drawn by
:mod:`mdlnas.report` and ``tensorboard/`` by ``--tensorboard``. Every other module reads
and writes these through here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from mdlnas import tomlio
from mdlnas.data.encoding import ENCODING_FILE
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.report.run_files import (
    ALPHAS_FILE,
    FRONT_FILE,
    GENOTYPE_FILE,
    GENOTYPES_DIR,
    METRICS_FILE,
    PLOTS_DIR,
    TRAIN_HISTORY_FILE,
    write_rows,
)
from mdlnas.search.checkpoint import load_weights_only
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork
from mdlnas.workflow.run_config import RunConfig, config_from_tables, config_tables

CONFIG_FILE = "config.toml"
SUMMARY_FILE = "summary.json"
EVAL_FILE = "eval.json"
MODEL_FILE = "model.pt"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"

# Everything a run directory may hold, in the order a reader meets it.
RUN_FILES = (CONFIG_FILE, SUMMARY_FILE, GENOTYPE_FILE, ENCODING_FILE, METRICS_FILE,
             ALPHAS_FILE, FRONT_FILE, GENOTYPES_DIR, CHECKPOINTS_DIR, PLOTS_DIR,
             TENSORBOARD_DIR, MODEL_FILE, EVAL_FILE, TRAIN_HISTORY_FILE)


@contextlib.contextmanager
def writing(run_dir: Path) -> Iterator[None]:
    """One line instead of a traceback when the run directory cannot be written (no
    permission, disk full); under torchrun rank 0's error then ends every rank."""
    try:
        yield
    except OSError as exc:
        raise MdlnasError(f"cannot write the run directory {run_dir}: {exc}") from None


# -- config.toml -------------------------------------------------------------------------
# Settings added after run directories were first written, with the behaviour of the runs
# that predate them: such a run lacks the key (these are never unset, so always written), and
# is resumed or read as it was searched, not with today's default.
PREDATING = {"search": {"family_balance": "raw", "trial_epochs": 0, "budget_fill": False}}


def load_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} is not a run directory (no {CONFIG_FILE}); make one with "
            "`mdlnas search`"
        )
    tables = tomlio.load(path)
    for name, settings in PREDATING.items():
        table = tables.get(name)
        if isinstance(table, dict):
            for key, value in settings.items():
                table.setdefault(key, value)
    try:
        return config_from_tables(tables)
    except TypeError as exc:
        raise ConfigError(f"{path} has a malformed option: {exc}") from None


def save_run_config(run_dir: Path, run: RunConfig) -> None:
    with writing(run_dir):
        tomlio.write(run_dir / CONFIG_FILE, config_tables(run))


# -- summary.json, eval.json -------------------------------------------------------------
def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Written whole or not at all: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json_if_present(path: Path) -> dict[str, Any] | None:
    """The object in ``path``; None when there is no such file (not written yet)."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MdlnasError(f"cannot read {path}: {exc}; it is damaged") from None
    if not isinstance(payload, dict):
        raise MdlnasError(f"{path} holds no JSON object; it is damaged")
    return payload


def read_json(path: Path) -> dict[str, Any]:
    payload = read_json_if_present(path)
    if payload is None:
        raise MdlnasError(f"{path} does not exist")
    return payload


# -- genotype.json -----------------------------------------------------------------------
def has_genotype(run_dir: Path) -> bool:
    return (run_dir / GENOTYPE_FILE).is_file()


def load_genotype(run_dir: Path) -> Genotype:
    return Genotype.load(run_dir / GENOTYPE_FILE)


def save_genotype(run_dir: Path, genotype: Genotype) -> None:
    genotype.save(run_dir / GENOTYPE_FILE)


# -- model.pt, train_history.csv ---------------------------------------------------------
def save_model(run_dir: Path, model: DerivedNetwork, history: Sequence[dict[str, float]]) -> None:
    if history:
        write_rows(run_dir / TRAIN_HISTORY_FILE, history)
    torch.save({"state_dict": model.state_dict()}, run_dir / MODEL_FILE)


def load_model(run_dir: Path, device: str = "auto") -> DerivedNetwork:
    """The retrained network of a run directory; loading never unpickles code."""
    train = load_run_config(run_dir).train
    bayes = train.bayes
    genotype = load_genotype(run_dir).scaled(train.channels, train.layers)  # as retrained
    path = run_dir / MODEL_FILE
    if not path.is_file():
        raise MdlnasError(f"{run_dir} has no trained model; run `mdlnas train {run_dir}` first")
    target = resolve_device(device)
    remedy = f"retrain it with `mdlnas train {run_dir}`"
    payload = load_weights_only(path, target, what=str(path), remedy=remedy)
    model = DerivedNetwork(genotype, bayes).to(target)
    state = payload.get("state_dict") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise MdlnasError(f"{path} is not a model written by mdlnas (no state_dict); {remedy}")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise MdlnasError(
            f"{path} does not fit the run's genotype ({first}); {remedy}"
        ) from None
    model.eval()
    return model
