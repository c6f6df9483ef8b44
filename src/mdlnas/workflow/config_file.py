"""Config files for ``mdlnas search --config FILE``: the same TOML tables a run directory
saves as ``config.toml`` ([data], [space], [search], [search.bayes], [train],
[train.bayes]), every option explained by a comment.

``mdlnas config --defaults`` prints :func:`defaults_text`, a complete file that loads back
to the defaults; :data:`OPTION_HELP` holds its comments (a test checks that every field of
every config dataclass has one, so a new setting cannot go undocumented).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdlnas import tomlio
from mdlnas.data import DataConfig
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.workflow.run_config import RunConfig, config_from_tables, config_tables

# What `mdlnas search` searches when neither the command line nor a file names the data.
DEFAULT_DATA = "mnist1d"
COMMENT_WIDTH = 88  # with "# ", lines stay within 90 columns

HEADER = """\
mdlnas configuration: every setting of `mdlnas search`, with its default.

Use it with `mdlnas search --config FILE`; an option typed on the command line overrides
the file. A commented-out `key = (unset)` is not set (its comment says what happens
then); to set it, remove the `#` and give a value. Left-out keys keep their defaults.
A run directory's config.toml has the same form (with the space spelled out), so
`mdlnas search --config runs/A/config.toml --out runs/B` repeats run A.
The command line alone says where and how to run: --out, --resume, --search-only,
--no-plots, --tensorboard, --quiet, --json, --debug."""

_BAYES = {
    "variational": "Gaussian posterior N(μ, σ²) per weight (true) or point weights, which "
    "have no description length (false: plain DARTS)",
    "prior_std": "standard deviation s of the prior N(0, s²) of every weight, or "
    '"empirical" (set per tensor by empirical Bayes) [--prior-std]',
    "init_sigma": "posterior standard deviation σ of every weight at initialisation "
    "[--init-sigma]",
    "sigma_lr": "learning rate of the posterior widths σ (unset: the weights' learning "
    "rate; the default 0.03 lets σ reach what each weight needs within a search) [--sigma-lr]",
    "sigma_init": '"absolute": init_sigma is σ itself; "relative": a fraction of each '
    "tensor's initial (He) standard deviation [--sigma-init]",
    "prior_mean": '"zero", or "empirical": the prior mean is fitted per tensor in closed '
    'form too (needs the empirical prior variance) [--prior-mean]',
}

OPTION_HELP: dict[str, str] = {
    # -- data
    "data": "What to learn from and how it is split (once, reproducibly from the seed).",
    "data.name": "a built-in dataset (see `mdlnas list`) or a .csv / .npz file [--data]",
    "data.target": "the target column of a CSV file (required there unless it has no header "
    "row, whose first column is then the target), or the target array of an NPZ file "
    "(unset: y) [--target]",
    "data.seed": "seed of the split and of any subsampling [--seed sets data, search and "
    "train seeds at once]",
    "data.val_fraction": "fraction of the rows for validation (the architecture's data)",
    "data.test_fraction": "fraction of the rows held out for the one final test (datasets "
    "with their own test part keep it)",
    "data.data_dir": "directory holding dataset files, e.g. Fashion-MNIST's IDX files "
    "(unset: the usual places) [--data-dir]",
    "data.n_train": "use only this many training rows, for quick runs (unset: all; the "
    "test part is never cut) [--n-train]",
    "data.task": '"auto", "classification" or "regression": the task of a user file '
    "(auto: inferred from the target)",
    "data.signal": "read flat feature columns as time series of this many channels, the "
    "columns holding one channel after another (unset: as they are; the conv1d space sets "
    "1) [--signal]",
    "data.impute": '"mean" or "median": fill missing feature values of a table with the '
    "column's value over the training part (unset: missing values are an error) [--impute]",
    # -- space
    "space": "The search space: a preset by name, with some of its settings changed, or "
    "a space spelled out completely (with dim and reduction_layers; run directories save "
    "it so).",
    "space.name": 'a preset: "mlp" (tables), "conv1d" (signals), "conv2d" (images) '
    "(unset: chosen from the data) [--space]",
    "space.dim": "0 for vectors (MLP cells), 1 for signals, 2 for images (complete spaces "
    "only)",
    "space.ops": "candidate ops on every edge, e.g. [\"linear\", \"identity\", \"zero\"] "
    "(unset: the preset's) [--ops]",
    "space.n_nodes": "nodes per cell; node j sums ops of all nodes before it (unset: the "
    "preset's) [--nodes]",
    "space.layers": "cells stacked in the network (unset: the preset's) [--layers]",
    "space.channels": "channels (convolutions) or width (MLP) (unset: the preset's) "
    "[--channels]",
    "space.reduction_layers": "0-based indices of the cells that halve the resolution "
    "(complete spaces only; presets place them at a third and two thirds of the depth)",
    "space.channel_growth": "channel multiplier of reduction cells (unset: the preset's, 1 "
    "for conv1d and 2 otherwise; 1 keeps the width) [--growth]",
    # -- search
    "search": "The bilevel search: α on validation data, weights on training data.",
    "search.lam": "weight λ of the description length: 1 is the variational free energy, "
    "0 none (DARTS) [--lam]",
    "search.xi": "ξ of the unrolled weight step in the hypergradient; 0 is first order "
    "[--xi]",
    "search.hypergradient": 'second-order term by double backward ("exact") or finite '
    'difference ("fd") [--hypergradient]',
    "search.max_epochs": "at most this many epochs; the search stops earlier once it "
    "converges [--epochs]",
    "search.warmup_epochs": "first epochs train only the weights, λ rising from 0, α fixed "
    "[--warmup]",
    "search.calibration_epochs": "after the warm-up, at most this many epochs (and at most "
    "half of the rest) train the weights, σ and prior at full λ with α frozen, until every "
    "op's description length per weight has settled (0: no calibration) [--calibrate]",
    "search.calibration_tol": "calibration ends when no op's description length per weight "
    "changes by more than this fraction in an epoch [--calibration-tol]",
    "search.tol": "convergence: relative change of weights and α per epoch below this "
    "[--tol]",
    "search.patience": "convergence: for this many epochs in a row [--patience]",
    "search.batch_size": "batch size (unset: a tenth of the training rows, 16 to 128) "
    "[--batch-size]",
    "search.w_lr": "learning rate of the weights (Adam) [--w-lr]",
    "search.w_weight_decay": "weight decay of the weights",
    "search.alpha_lr": "learning rate of the architecture α (Adam) [--alpha-lr]",
    "search.alpha_weight_decay": "weight decay of α",
    "search.grad_clip": "clip the weights' gradient norm to this",
    "search.derive": '"mdl": every edge keeps its most probable op, zero may win; "darts": '
    "top-k non-zero edges per node [--derive]",
    "search.darts_top_k": "edges kept per node by the darts rule",
    "search.seed": "seed of the initialisation and the noise of the search [--seed]",
    "search.device": '"auto", "cpu", "cuda" or "cuda:N" [--device sets search and train]',
    "search.bayes": "How the search describes weights.",
    **{f"search.bayes.{key}": text for key, text in _BAYES.items()},
    "search.bayes.variational": _BAYES["variational"] + " [--deterministic sets false]",
    # -- train
    "train": "Retraining the found network from scratch, then one test on the held-out "
    "part.",
    "train.epochs": "epochs of retraining [--train-epochs; `mdlnas train --epochs`]",
    "train.batch_size": "batch size (unset: a tenth of the training rows, 16 to 64) "
    "[--train-batch-size]",
    "train.lr": "learning rate (AdamW; the peak of the schedule) [--train-lr]",
    "train.weight_decay": "decoupled weight decay of the weights, never of their widths σ "
    "[--train-weight-decay]",
    "train.schedule": '"cosine" (from lr down to 0) or "onecycle" (up to lr in the first '
    '30 % of the steps, then down) [--train-schedule]',
    "train.refit": "retrain on the training and validation rows together and keep the last "
    "epoch (false: train on the training rows, keep the epoch of best validation NLL) "
    "[--train-refit]",
    "train.lam": "weight of the description length when retraining variationally (unset: "
    "the search's λ) "
    "[--train-lam]",
    "train.grad_clip": "clip the gradient norm to this",
    "train.seed": "seed of the initialisation and noise [--seed]",
    "train.device": '"auto", "cpu", "cuda" or "cuda:N" [--device]',
    "train.n_train": "training rows for retraining: unset keeps the search's, 0 takes all "
    "[--train-n-train]",
    "train.bayes": "How the retrained network describes weights (--prior-std, --init-sigma "
    "and --sigma-lr set both tables).",
    **{f"train.bayes.{key}": text for key, text in _BAYES.items()},
    "train.bayes.variational": _BAYES["variational"] + " [--train-deterministic sets false]",
}


def default_run_config() -> RunConfig:
    """What `mdlnas search` runs with no options and no file."""
    return RunConfig(data=DataConfig(name=DEFAULT_DATA))


def config_text(run: RunConfig, header: str = HEADER) -> str:
    """``run`` as a TOML file with a comment on every table and option."""
    intro = "\n".join(f"# {line}" if line else "#" for line in header.splitlines())
    wrapped = {key: textwrap.fill(text, COMMENT_WIDTH) for key, text in OPTION_HELP.items()}
    return intro + "\n\n" + tomlio.dumps(config_tables(run), comments=wrapped)


def defaults_text() -> str:
    """The complete, commented default config file (`mdlnas config --defaults`)."""
    return config_text(default_run_config())


def load_config_file(path: Path) -> dict[str, Any]:
    """The tables of a config file, checked (a mistake names the file and the option).
    A file may leave out anything but must hold tables of options."""
    tables = tomlio.load(path)
    known = {"data", "space", "search", "train"}
    unknown = sorted(set(tables) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    checked = dict(tables)
    data = checked.get("data", {})
    if isinstance(data, Mapping) and "name" not in data:
        checked["data"] = {**data, "name": DEFAULT_DATA}  # only to check the rest
    try:
        config_from_tables(checked)
    except (MdlnasError, TypeError) as exc:  # MdlnasError: also an unknown space name
        raise ConfigError(f"{path}: {exc}") from None
    return tables
