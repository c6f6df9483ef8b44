"""``mdlnas train DIR``: retrain a run's genotype from scratch and test it."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
    add_tensorboard,
    open_tensorboard,
    progress,
)
from mdlnas.cli.options import add_options, changed_run, typed_tables
from mdlnas.distributed import main_only, on_main
from mdlnas.errors import ConfigError
from mdlnas.workflow.options import train_options


def add_parser(sub: Subparsers) -> None:
    t = sub.add_parser(
        "train",
        formatter_class=Formatter,
        help="retrain a run's genotype from scratch and test it",
        description="Retrain the genotype of a run directory from scratch on the training "
        "part, test it once on the held-out part, and write eval.json and model.pt.",
    )
    t.add_argument("run_dir", type=Path, help="a run directory made by `mdlnas search`")
    add_options(t, train_options(), from_run=True)
    t.add_argument(
        "--variational",
        action="store_true",
        help="retrain with variational weights even if the run used point weights "
        "(e.g. a plain DARTS genotype, to prune it with --prune-snr)",
    )
    t.add_argument(
        "--prune-snr",
        type=float,
        help="after training, remove weights with |μ|/σ below this (Graves 2011)",
    )
    t.add_argument("--seed", type=int, help="seed of the initialisation (default: the run's seed)")
    add_tensorboard(t)
    add_common(t)



def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow import load_run_config, run_train

    if args.deterministic and args.variational:
        raise ConfigError("--deterministic and --variational exclude each other; give one")
    saved = on_main(lambda: load_run_config(args.run_dir))
    run = changed_run(saved, typed_tables(args, args.given, train_options()))
    seed = saved.train.seed if args.seed is None else args.seed
    train = replace(run.train, seed=seed, device=args.device)
    if args.variational:
        train = replace(train, bayes=replace(train.bayes, variational=True))
    tensorboard = main_only(lambda: open_tensorboard(args, args.run_dir))
    try:
        callbacks = [tensorboard.train_epoch] if tensorboard else []
        # in a family run, --lam also picks the family's network of that λ
        family_lam = args.lam if "lam" in args.given else None
        return run_train(args.run_dir, train, args.prune_snr, progress(args), callbacks,
                         family_lam=family_lam)
    finally:
        if tensorboard:
            tensorboard.close()
