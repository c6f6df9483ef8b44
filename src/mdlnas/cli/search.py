"""``mdlnas search``: search an architecture, write the run directory, then retrain and test."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
    add_tensorboard,
    comma_list,
    open_tensorboard,
    progress,
)
from mdlnas.cli.options import add_train_options
from mdlnas.config import BayesConfig, SearchConfig
from mdlnas.data import dataset_names
from mdlnas.data.config import IMPUTE_OPTIONS
from mdlnas.distributed import main_only, on_main
from mdlnas.errors import ConfigError
from mdlnas.space.ops import OPS
from mdlnas.space.presets import SPACES
from mdlnas.workflow.config_file import DEFAULT_DATA

if TYPE_CHECKING:  # imported where used: most commands need neither
    from mdlnas.report.tensorboard_log import TensorBoardLogger
    from mdlnas.search.darts import SearchResult
    from mdlnas.workflow.run_config import RunConfig

# Reported in Greydanus & Kobak's MNIST-1D paper (default 4,000 / 1,000 split).
REFERENCES = {
    "mnist1d": [("MLP (MNIST-1D paper)", 0.68, 15_210), ("CNN (MNIST-1D paper)", 0.94, 5_210)],
}

# What may accompany --resume: everything else comes from the run's config.toml.
RESUME_OPTIONS = {"command", "resume", "search_only", "device", "quiet", "json", "debug",
                  "no_plots", "tensorboard"}


def _prior(text: str) -> float | None:
    if text == "empirical":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--prior-std takes a positive number or 'empirical', got {text!r}"
        ) from None


def add_parser(sub: Subparsers) -> None:
    s = sub.add_parser(
        "search",
        formatter_class=Formatter,
        help="search an architecture, then retrain and test it",
        description="Search an architecture for a dataset, write the run directory "
        "(config.toml, genotype.json, summary.json, metrics.csv, alphas.csv, checkpoints/, "
        "plots/), then retrain the found network from scratch and test it once (eval.json, "
        "model.pt) unless --search-only. With no options it searches MNIST-1D in the conv1d "
        "space. Settings come from the defaults, then --config FILE, then the options typed "
        "here.",
    )
    search_defaults = SearchConfig()
    bayes_defaults = BayesConfig()
    s.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help=f"a dataset ({', '.join(dataset_names())}) or a .csv / .tsv / .txt / .npz file",
    )
    s.add_argument("--target", help="target column of a CSV file (a file without a header "
                   "row, as the UCR archive's: its first column unless a position is given)")
    s.add_argument(
        "--signal", type=int, nargs="?", const=1, metavar="CHANNELS",
        help="read the feature columns as time series of CHANNELS channels (default 1), the "
        "columns holding one channel after another, for the conv1d space (--space conv1d "
        "implies --signal 1)",
    )
    s.add_argument("--impute", choices=IMPUTE_OPTIONS,
                   help="fill missing feature values with the column's mean or median over "
                   "the training part (unset: missing values are an error)")
    s.add_argument("--data-dir", help="directory holding dataset files (fashion-mnist)")
    s.add_argument("--n-train", type=int, help="use only this many training rows (quick runs)")
    s.add_argument(
        "--space",
        choices=SPACES.names(),
        help="search space (default: mlp for tables, conv1d for signals, conv2d for images)",
    )
    s.add_argument("--nodes", type=int, help="nodes per cell (default: the space's)")
    s.add_argument("--layers", type=int, help="cells in the network (default: the space's)")
    s.add_argument("--channels", type=int, help="channels / width (default: the space's)")
    s.add_argument(
        "--growth",
        type=int,
        help="channel multiplier of reduction cells (default: the space's, 1 for conv1d, 2 "
        "otherwise; 1 keeps the width)",
    )
    s.add_argument(
        "--ops", type=comma_list,
        help=f"comma-separated candidate ops from: {', '.join(OPS.names())}",
    )
    s.add_argument(
        "--lam",
        type=float,
        default=search_defaults.lam,
        help="weight λ of the description length (1 = free energy, 0 = none)",
    )
    s.add_argument(
        "--xi",
        type=float,
        default=search_defaults.xi,
        help="ξ of the unrolled step in the hypergradient (0 = first order)",
    )
    s.add_argument(
        "--hypergradient",
        choices=("exact", "fd"),
        default=search_defaults.hypergradient,
        help="second-order term by double backward or finite difference",
    )
    s.add_argument(
        "--epochs",
        type=int,
        default=search_defaults.max_epochs,
        help="maximum search epochs (the search stops earlier once it converges)",
    )
    s.add_argument(
        "--warmup",
        type=int,
        default=search_defaults.warmup_epochs,
        help="first epochs train only the weights, with λ rising from 0 (α fixed)",
    )
    s.add_argument(
        "--calibrate",
        type=int,
        default=search_defaults.calibration_epochs,
        metavar="N",
        help="after the warm-up, at most N epochs (and at most half of the rest) train "
        "weights, σ and prior at full λ with α frozen, until every op's description length "
        "per weight has settled",
    )
    s.add_argument(
        "--calibration-tol",
        type=float,
        default=search_defaults.calibration_tol,
        help="calibration ends when no op's description length per weight changes by more "
        "than this (relative) in an epoch",
    )
    s.add_argument(
        "--tol",
        type=float,
        default=search_defaults.tol,
        help="convergence: relative change of weights and α per epoch below this",
    )
    s.add_argument(
        "--patience",
        type=int,
        default=search_defaults.patience,
        help="convergence: for this many epochs in a row",
    )
    s.add_argument(
        "--batch-size",
        type=int,
        default=search_defaults.batch_size,
        help="search batch size (default: a tenth of the training rows, 16 to 128)",
    )
    s.add_argument("--w-lr", type=float, default=search_defaults.w_lr, help="weight learning rate")
    s.add_argument(
        "--alpha-lr",
        type=float,
        default=search_defaults.alpha_lr,
        help="architecture learning rate",
    )
    s.add_argument(
        "--derive",
        choices=("mdl", "darts"),
        default=search_defaults.derive,
        help="mdl: an edge goes when γ_zero ≥ ½, else keeps its best non-zero op (an empty "
        "mlp cell is the linear model); darts: top-2 non-zero edges per node",
    )
    s.add_argument(
        "--deterministic",
        action="store_true",
        help="point weights, no description length: plain DARTS (use with --lam 0)",
    )
    s.add_argument(
        "--prior-std",
        type=_prior,
        default=bayes_defaults.prior_std,
        help="prior standard deviation of the weights, or 'empirical': set per tensor in "
        "closed form, the KL-minimising value (default: empirical)",
    )
    s.add_argument(
        "--sigma-lr",
        type=float,
        default=bayes_defaults.sigma_lr,
        help="learning rate of the posterior widths σ, in the search and the retraining",
    )
    s.add_argument(
        "--init-sigma",
        type=float,
        default=bayes_defaults.init_sigma,
        help="posterior standard deviation of every weight at initialisation; with "
        "--sigma-init relative, a fraction of each tensor's initial (He) scale",
    )
    s.add_argument(
        "--sigma-init",
        choices=("absolute", "relative"),
        default=bayes_defaults.sigma_init,
        help="relative: --init-sigma is a fraction of each tensor's initial standard "
        "deviation (He), so a weight's first price does not depend on its layer's width",
    )
    s.add_argument(
        "--prior-mean",
        choices=("zero", "empirical"),
        default=bayes_defaults.prior_mean,
        help="empirical: the prior's mean is fitted per tensor in closed form too (Graves "
        "2011; needs --prior-std empirical)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the split, init and noise")
    s.add_argument("--out", type=Path, help="run directory (default: runs/DATA-TIME)")
    s.add_argument("--search-only", action="store_true", help="do not retrain and test")
    s.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the interrupted search of run directory DIR from its last checkpoint, "
        "with the options saved there",
    )
    add_train_options(s, prefix="train-")
    s.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of settings (`mdlnas config --defaults` prints a complete one); "
        "options typed on the command line override it",
    )
    s.add_argument("--no-plots", action="store_true", help="do not draw DIR/plots at the end")
    add_tensorboard(s)
    add_common(s)



def _check_resume(args: argparse.Namespace) -> None:
    given = sorted("--" + name.replace("_", "-") for name in args.given - RESUME_OPTIONS)
    if given:
        raise ConfigError(
            f"--resume continues a run with the options saved in {args.resume}/config.toml; "
            f"drop {', '.join(given)}"
        )


def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.cli.options import search_run_config
    from mdlnas.workflow import load_run_config
    from mdlnas.workflow.config_file import load_config_file

    if args.resume is not None:
        _check_resume(args)
        saved = on_main(lambda: load_run_config(args.resume))
        if args.device != "auto":  # a run may move between machines
            saved = replace(saved, search=replace(saved.search, device=args.device),
                            train=replace(saved.train, device=args.device))
        return _search_and_retrain(args, saved, args.resume, resume=True)
    file_tables = on_main(lambda: load_config_file(args.config)) if args.config else None
    run = search_run_config(args, args.given, file_tables)
    space = run.space.name if run.space is not None else run.space_name
    if run.data.signal is None and space == "conv1d":
        # Flat features (a table) would not fit the space; data with channels is unaffected.
        run = replace(run, data=replace(run.data, signal=1))
        if not args.quiet and Path(run.data.name).suffix:  # a file, maybe a table
            print("mdlnas: note: the conv1d space reads flat feature columns as one-channel "
                  "series (as --signal 1 does)", file=sys.stderr)
    stamp = on_main(lambda: time.strftime("%Y%m%d-%H%M%S"))  # one name for all ranks
    out = args.out or Path("runs") / f"{Path(run.data.name).stem}-{stamp}"
    return _search_and_retrain(args, run, out, resume=False)




def _search_and_retrain(
    args: argparse.Namespace, run: RunConfig, out: Path, resume: bool
) -> dict[str, Any]:
    from mdlnas.workflow import run_search

    # rank 0's, made before any work
    tensorboard = main_only(lambda: open_tensorboard(args, out))
    try:
        callbacks = [tensorboard.search_epoch] if tensorboard else []
        result = run_search(run, out, progress(args), resume=resume, callbacks=callbacks)
        return _after_search(args, out, result, tensorboard)
    finally:
        if tensorboard:
            tensorboard.close()


def _after_search(
    args: argparse.Namespace,
    out: Path,
    result: SearchResult,
    tensorboard: TensorBoardLogger | None = None,
) -> dict[str, Any]:
    from mdlnas.workflow import read_json, run_train

    say = progress(args)

    def report() -> dict[str, Any]:
        summary = read_json(out / "summary.json")
        summary["run_dir"] = str(out)
        if not args.quiet:
            print(result.genotype.describe(), file=sys.stderr)
        if not args.no_plots:
            from mdlnas.report.run_plots import draw_run_plots

            drawn = draw_run_plots(out)
            say(f"plots: {', '.join(p.name for p in drawn)} in {out / 'plots'}")
        return summary

    # under torchrun the run directory may exist on rank 0's machine alone
    summary = on_main(report)
    if not args.search_only:
        callbacks = [tensorboard.train_epoch] if tensorboard else []
        summary["eval"] = run_train(out, progress=say, callbacks=callbacks)
    if not args.json and not args.quiet:
        _print_table(summary)
    return summary


def _print_table(summary: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []  # model, metric, params, DL
    ev = summary.get("eval")
    metric = "accuracy" if ev is None or "test_accuracy" in ev else "RMSE"
    if ev is not None:
        value = ev.get("test_accuracy", ev.get("test_rmse"))
        rows.append(
            (
                f"found network (λ={summary['lam']:g}, {summary['strategy']})",
                f"{value:.4f}",
                f"{ev['params']:,}",
                f"{ev['description_length_bits']:,.0f}",
            )
        )
    else:
        rows.append(("found network (search only)", "-", f"{summary['genotype_params']:,}", "-"))
    for name, acc, size in REFERENCES.get(summary["dataset"], []):
        rows.append((name, f"{acc:.2f}", f"{size:,}", "-"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'model':<{width}}  {'test ' + metric:>13}  {'params':>8}  {'DL (bits)':>10}")
    for name, value, params, dl in rows:
        print(f"{name:<{width}}  {value:>13}  {params:>8}  {dl:>10}")
    print(f"\nrun directory: {summary['run_dir']}")
