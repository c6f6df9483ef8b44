"""The ``mdlnas`` command line: it builds configs and calls the library, nothing else."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mdlnas import __version__
from mdlnas.cli_options import given_options
from mdlnas.config import BayesConfig, SearchConfig, TrainConfig
from mdlnas.data import DataConfig, dataset_names
from mdlnas.data.config import IMPUTE_OPTIONS
from mdlnas.distributed import launched, main_only, on_main
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.memory import keep_freed_memory
from mdlnas.space.ops import OPS
from mdlnas.space.presets import SPACES
from mdlnas.workflow.config_file import DEFAULT_DATA

if TYPE_CHECKING:  # imported where used: most commands need neither
    from mdlnas.report.tensorboard_log import TensorBoardLogger
    from mdlnas.search.darts import SearchResult
    from mdlnas.workflow import RunConfig

# Reported in Greydanus & Kobak's MNIST-1D paper (default 4,000 / 1,000 split).
REFERENCES = {
    "mnist1d": [("MLP (MNIST-1D paper)", 0.68, 15_210), ("CNN (MNIST-1D paper)", 0.94, 5_210)],
}

class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless there is nothing to show (None, an off switch) or
    its help already says it in words."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is the same one line as every other error (subcommand
    parsers are made with the parent's class, so they inherit this)."""

    def error(self, message: str) -> NoReturn:
        _print_error(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(2)


def _print_error(message: str) -> None:
    # One line whatever the message: some embed multi-line text from other libraries.
    print(f"mdlnas: error: {' '.join(message.split())}", file=sys.stderr)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _ops(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _prior(text: str) -> float | None:
    if text == "empirical":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--prior-std takes a positive number or 'empirical', got {text!r}"
        ) from None


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _add_train_options(
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


def _train_changes(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The retraining options the user gave, by TrainConfig field name."""
    names = ("epochs", "lr", "batch_size", "lam", "n_train", "schedule", "weight_decay",
             "refit")
    values = {name: getattr(args, prefix + name) for name in names}
    return {name: value for name, value in values.items() if value is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mdlnas",
        description="Build a neural network of optimal complexity for your data: "
        "differentiable architecture search (DARTS) in which every candidate is charged "
        "for its description length (variational weights, free energy).",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"mdlnas {__version__}")
    # For commands whose subcommand is missing (`mdlnas reproduce`), which never reach
    # _add_common.
    parser.set_defaults(debug=False, json=False, quiet=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
        "--ops", type=_ops, help=f"comma-separated candidate ops from: {', '.join(OPS.names())}"
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
    _add_train_options(s, prefix="train-")
    s.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of settings (`mdlnas config --defaults` prints a complete one); "
        "options typed on the command line override it",
    )
    s.add_argument("--no-plots", action="store_true", help="do not draw DIR/plots at the end")
    _add_tensorboard(s)
    _add_common(s)

    t = sub.add_parser(
        "train",
        formatter_class=Formatter,
        help="retrain a run's genotype from scratch and test it",
        description="Retrain the genotype of a run directory from scratch on the training "
        "part, test it once on the held-out part, and write eval.json and model.pt.",
    )
    t.add_argument("run_dir", type=Path, help="a run directory made by `mdlnas search`")
    _add_train_options(t, from_run=True)
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
    _add_tensorboard(t)
    _add_common(t)

    e = sub.add_parser(
        "evaluate",
        formatter_class=Formatter,
        help="re-evaluate a run's saved model",
        description="Load the saved model of a run directory and score it on the test part.",
    )
    e.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    _add_common(e)

    r = sub.add_parser(
        "reproduce",
        formatter_class=Formatter,
        help="reproduce an experiment of the seed paper",
        description="Reproduce an experiment of the seed document.",
    )
    rsub = r.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    sc = rsub.add_parser(
        "sincos",
        formatter_class=Formatter,
        help="y = α0 sin(w0 x) + α1 cos(w1 x): descent trajectories for several ξ",
        description="The seed's synthetic experiment: fit y = α0 sin(w0 x) + α1 cos(w1 x) + "
        "N(0, 0.1) by the bilevel search from one starting point for several ξ; writes "
        "summary.json, trajectories.csv and trajectories.png.",
    )
    sc.add_argument("--out", type=Path, required=True, help="output directory")
    sc.add_argument("--xi", type=_floats, help="comma-separated ξ values (default 0,0.1,0.3,1)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the synthetic sample")
    _add_common(sc)

    ls = sub.add_parser(
        "list",
        formatter_class=Formatter,
        help="list datasets, search spaces and ops",
        description="List the registered datasets, search spaces and ops.",
    )
    _add_common(ls)
    _add_compare_parser(sub)
    _add_run_dir_parsers(sub)
    _add_serving_parsers(sub)
    _add_bench_parser(sub)
    return parser


def _add_bench_parser(sub: Any) -> None:
    b = sub.add_parser(
        "bench",
        formatter_class=Formatter,
        help="measure the cost of a search step",
        description="Benchmarks of mdlnas itself.",
    )
    bsub = b.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    sc = bsub.add_parser(
        "step-cost",
        formatter_class=Formatter,
        help="one DARTS step of each kind against one forward+backward of the supernet",
        description="On the space's default config and one fixed synthetic batch: the "
        "median time of a forward+backward of the supernet and of a first-order, exact "
        "second-order and finite-difference second-order search step, each step as a "
        "multiple of the forward+backward (targets: first order ≤ 2.3, exact second order "
        "≤ 4.5), their GFLOP/s against a matrix product timed in the same run, and the "
        "peak memory. The steps take turns in every repeat, each right after a "
        "forward+backward, so that a changing load hits the ratios' two sides alike. "
        "With --json the last line is one JSON object.",
    )
    sc.add_argument("--space", choices=SPACES.names(), required=True, help="search space")
    sc.add_argument("--batch-size", type=int, default=128, help="rows of the fixed batch")
    sc.add_argument("--repeats", type=int, default=10, help="timed repeats (medians)")
    sc.add_argument("--warmup", type=int, default=2, help="untimed repeats first")
    sc.add_argument("--deterministic", action="store_true",
                    help="point weights and λ = 0 (plain DARTS) instead of variational, λ = 1")
    sc.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    _add_common(sc)


def _add_tensorboard(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="log every epoch to DIR/tensorboard (needs pip install tensorboard)",
    )


def _add_run_dir_parsers(sub: Any) -> None:
    co = sub.add_parser(
        "config",
        formatter_class=Formatter,
        help="print a complete, commented config file",
        description="Print a TOML config file for `mdlnas search --config`: with --defaults "
        "every setting at its default, or FILE (a config file or a run's config.toml) with "
        "every setting it leaves out filled in. Each option has a comment saying what it is.",
    )
    co.add_argument("file", type=Path, nargs="?", help="a config file to complete")
    co.add_argument("--defaults", action="store_true", help="print the defaults")
    co.add_argument("--json", action="store_true", help="print the tables as one JSON object")
    co.add_argument("--debug", action="store_true", help="show tracebacks of errors")

    sh = sub.add_parser(
        "show",
        formatter_class=Formatter,
        help="summarise a run directory and draw its plots",
        description="Print what a run directory holds: data, space, search, test scores, "
        "the genotype (or, for a `mdlnas compare` directory, its table and the mean over "
        "seeds). With --plots, "
        "(re)draw DIR/plots: γ of every edge over the epochs, loss and description-length "
        "curves, the derived cells (or the Pareto picture of a comparison).",
    )
    sh.add_argument("run_dir", type=Path, help="a run directory (or a compare --out)")
    sh.add_argument("--plots", action="store_true", help="(re)draw the pictures in DIR/plots")
    sh.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    sh.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sh.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _add_compare_parser(sub: Any) -> None:
    from mdlnas.strategies import STRATEGY_ORDER
    from mdlnas.strategies.evaluators import EVALUATOR_KINDS, OBJECTIVES

    c = sub.add_parser(
        "compare",
        formatter_class=Formatter,
        help="run several search strategies on the same data, space and budget",
        description="Search the same data and space with every strategy under the same "
        "budget, retrain each found network from scratch, test it once, and write "
        "compare.csv, pareto.png and the genotypes to --out. With --seeds above 1 it also "
        "prints each strategy's mean ± standard deviation over the seeds (in --json: "
        "`summary`). See docs/STRATEGIES.md.",
    )
    c.add_argument("--data", default=DEFAULT_DATA,
                   help=f"a dataset ({', '.join(dataset_names())}) or a .csv / .npz file")
    c.add_argument("--target", help="target column of a CSV file")
    c.add_argument("--n-train", type=int, help="use only this many training rows")
    c.add_argument("--space", choices=SPACES.names(),
                   help="search space (default: the one that suits the data)")
    c.add_argument("--strategies", type=_ops, default=STRATEGY_ORDER,
                   help=f"comma-separated, from: {', '.join(STRATEGY_ORDER)} (default: all)")
    budget = c.add_mutually_exclusive_group()
    budget.add_argument("--budget-evals", type=int,
                        help="candidate evaluations per strategy (default 10 without "
                        "--budget-seconds); mdl and darts get the weight steps they cost")
    budget.add_argument("--budget-seconds", type=float, help="search seconds per strategy")
    c.add_argument("--seeds", type=int, default=1, help="repeat for seeds SEED, SEED+1, ...")
    c.add_argument("--seed", type=int, default=0, help="first seed (split, init, search)")
    c.add_argument("--evaluator", choices=EVALUATOR_KINDS, default="shared",
                   help="score candidates by weight sharing or by full training")
    c.add_argument("--objective", choices=OBJECTIVES, default="metric",
                   help="what the discrete strategies minimise on validation data: the "
                   "error (or RMSE), the NLL, or NLL + λ·DL/m")
    c.add_argument("--lam", type=float, default=SearchConfig().lam,
                   help="λ of the mdl strategy and of --objective mdl")
    c.add_argument("--xi", type=float, default=SearchConfig().xi, help="ξ of mdl and darts")
    c.add_argument("--train-epochs", type=int, default=TrainConfig().epochs,
                   help="epochs of retraining every found network")
    c.add_argument("--out", type=Path, required=True, help="output directory")
    _add_common(c)


def _add_serving_parsers(sub: Any) -> None:
    x = sub.add_parser(
        "export",
        formatter_class=Formatter,
        help="export a run's trained network (torch.export or ONNX)",
        description="Export the trained network of a run directory with its input scaling, "
        "in evaluation mode (posterior means): raw features in, class probabilities or "
        "predictions in the target's units out. torch: a torch.export program (.pt2, load "
        "with torch.export.load); onnx: an ONNX graph (needs pip install 'mdlnas[export]'). "
        "FILE.json beside it records the input shape and the class order. See docs/API.md.",
    )
    x.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    x.add_argument("--format", choices=("torch", "onnx"), default="torch", help="file format")
    x.add_argument("--out", type=Path, metavar="FILE",
                   help="output file (unset: DIR/model.pt2 or DIR/model.onnx)")
    _add_common(x)

    pr = sub.add_parser(
        "predict",
        formatter_class=Formatter,
        help="predict the rows of a CSV / NPZ file with a run's trained network",
        description="Scale the rows of FILE as the run's training did and predict them with "
        "its trained network. A CSV's target column, if present, is ignored; an NPZ file "
        "gives its rows as array X. Writes a CSV with the column prediction and, for "
        "classification, one column p_<class> of probabilities per class.",
    )
    pr.add_argument("run_dir", type=Path, help="a run directory with a trained model")
    pr.add_argument("file", type=Path,
                    help="rows to predict: a .csv / .tsv / .txt table or an .npz file")
    pr.add_argument("--out", type=Path, metavar="PRED.csv", required=True,
                    help="CSV file to write")
    _add_common(pr)


# -- commands --------------------------------------------------------------------------
def _progress(args: argparse.Namespace) -> Any:
    if args.quiet:
        return lambda _: None
    return lambda line: print(line, file=sys.stderr, flush=True)


# What may accompany --resume: everything else comes from the run's config.toml.
RESUME_OPTIONS = {"command", "resume", "search_only", "device", "quiet", "json", "debug",
                  "no_plots", "tensorboard"}


def _check_resume(args: argparse.Namespace) -> None:
    given = sorted("--" + name.replace("_", "-") for name in args.given - RESUME_OPTIONS)
    if given:
        raise ConfigError(
            f"--resume continues a run with the options saved in {args.resume}/config.toml; "
            f"drop {', '.join(given)}"
        )


def _cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.cli_options import search_run_config
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


def _tensorboard(args: argparse.Namespace, run_dir: Path) -> TensorBoardLogger | None:
    """A TensorBoard logger for ``--tensorboard`` (None without): made before any work, so
    that a missing tensorboard package fails at once."""
    if not args.tensorboard:
        return None
    from mdlnas.report.tensorboard_log import TensorBoardLogger

    return TensorBoardLogger(run_dir)


def _search_and_retrain(
    args: argparse.Namespace, run: RunConfig, out: Path, resume: bool
) -> dict[str, Any]:
    from mdlnas.workflow import run_search

    tensorboard = main_only(lambda: _tensorboard(args, out))  # rank 0's; made before any work
    try:
        callbacks = [tensorboard.search_epoch] if tensorboard else []
        result = run_search(run, out, _progress(args), resume=resume, callbacks=callbacks)
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

    progress = _progress(args)

    def report() -> dict[str, Any]:
        summary = read_json(out / "summary.json")
        summary["run_dir"] = str(out)
        if not args.quiet:
            print(result.genotype.describe(), file=sys.stderr)
        if not args.no_plots:
            from mdlnas.report.run_plots import draw_run_plots

            drawn = draw_run_plots(out)
            progress(f"plots: {', '.join(p.name for p in drawn)} in {out / 'plots'}")
        return summary

    # under torchrun the run directory may exist on rank 0's machine alone
    summary = on_main(report)
    if not args.search_only:
        callbacks = [tensorboard.train_epoch] if tensorboard else []
        summary["eval"] = run_train(out, progress=progress, callbacks=callbacks)
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


def _cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow import load_run_config, run_train

    saved = on_main(lambda: load_run_config(args.run_dir)).train
    seed = saved.seed if args.seed is None else args.seed
    train = replace(saved, **_train_changes(args, ""), seed=seed, device=args.device)
    if args.deterministic and args.variational:
        raise ConfigError("--deterministic and --variational exclude each other; give one")
    if args.deterministic or args.variational:
        train = replace(train, bayes=replace(train.bayes, variational=args.variational))
    tensorboard = main_only(lambda: _tensorboard(args, args.run_dir))
    try:
        callbacks = [tensorboard.train_epoch] if tensorboard else []
        return run_train(args.run_dir, train, args.prune_snr, _progress(args), callbacks)
    finally:
        if tensorboard:
            tensorboard.close()


def _cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow import run_evaluate

    return run_evaluate(args.run_dir, args.device)


def _cmd_reproduce(args: argparse.Namespace) -> dict[str, Any]:
    if args.experiment != "sincos":
        raise ConfigError("name an experiment: `mdlnas reproduce sincos --out DIR`")
    from mdlnas.reproduce.sincos import SincosConfig, run_sincos

    config = SincosConfig(seed=args.seed)
    if args.xi is not None:
        config = replace(config, xis=args.xi)
    summary: dict[str, Any] = run_sincos(config, args.out, progress=_progress(args))
    return summary


def _cmd_list(args: argparse.Namespace) -> dict[str, Any]:
    listing = {
        "datasets": dataset_names(),
        "spaces": SPACES.names(),
        "ops": {name: sorted(OPS.get(name).dims) for name in OPS.names()},
    }
    if not args.json:
        print("datasets:", ", ".join(listing["datasets"]), "(or a .csv / .npz file)")
        print("spaces:  ", ", ".join(listing["spaces"]))
        print("ops:     ", ", ".join(OPS.names()))
    return listing


def _cmd_config(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.cli_options import search_run_config
    from mdlnas.workflow import config_tables
    from mdlnas.workflow.config_file import config_text, default_run_config, load_config_file

    if args.defaults == (args.file is not None):
        raise ConfigError("give --defaults, or FILE to complete: `mdlnas config --defaults "
                          "> my.toml`, `mdlnas config my.toml`")
    if args.defaults:
        run, header = default_run_config(), None
    else:
        run = search_run_config(args, frozenset(), load_config_file(args.file))
        header = f"{args.file}, with every setting it leaves out at its default."
    if not args.json:
        print(config_text(run) if header is None else config_text(run, header), end="")
    return config_tables(run)


def _cmd_show(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.show import draw_plots, format_overview, run_overview

    overview = run_overview(args.run_dir)
    if args.plots:
        overview["plots"] = [str(path) for path in draw_plots(args.run_dir)]
    if not args.json and not args.quiet:
        print(format_overview(overview))
        if args.plots:
            print(f"plots: {', '.join(overview['plots']) or 'none'}")
    return overview


def _cmd_compare(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.strategies import Budget, EvaluatorConfig
    from mdlnas.workflow.compare import (
        CompareConfig,
        format_summary,
        format_table,
        run_compare,
        summarize,
    )

    if args.budget_seconds is not None:
        budget = Budget(max_seconds=args.budget_seconds)
    else:
        budget = Budget(max_evaluations=10 if args.budget_evals is None else args.budget_evals)
    config = CompareConfig(
        data=DataConfig(name=args.data, target=args.target, seed=args.seed,
                        n_train=args.n_train),
        space_name=args.space,
        strategies=tuple(args.strategies),
        budget=budget,
        seeds=args.seeds,
        evaluator=EvaluatorConfig(kind=args.evaluator, objective=args.objective,
                                  lam=args.lam, device=args.device),
        search=SearchConfig(lam=args.lam, xi=args.xi, device=args.device),
        train=TrainConfig(epochs=args.train_epochs, device=args.device),
    )
    rows = run_compare(config, args.out, _progress(args))
    if not args.json and not args.quiet:
        print(format_table(rows))
        if args.seeds > 1:
            print(f"\nmean ± standard deviation over {args.seeds} seeds:\n")
            print(format_summary(rows))
        print(f"\nwritten to {args.out}/compare.csv and {args.out}/pareto.png")
    return {"out": str(args.out), "rows": rows, "summary": summarize(rows)}


def _cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.export import export_run

    result = export_run(args.run_dir, args.format, args.out)
    if not args.json and not args.quiet:
        print(f"exported to {result['export']} (what it expects and returns: "
              f"{result['metadata']})")
    return result


def _cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.workflow.predict import predict_file

    result = predict_file(args.run_dir, args.file, args.out, args.device)
    if not args.json and not args.quiet:
        print(f"{result['rows']} predictions written to {result['predictions']}")
    return result


def _cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    if args.benchmark is None:
        raise ConfigError("name a benchmark: `mdlnas bench step-cost --space mlp`")
    import torch

    from mdlnas.workflow.bench import StepCostConfig, format_report, step_cost

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = StepCostConfig(
        space=args.space, batch_size=args.batch_size, repeats=args.repeats,
        warmup=args.warmup, lam=0.0 if args.deterministic else 1.0,
        variational=not args.deterministic, device=args.device,
    )
    report = step_cost(config)
    if not args.json and not args.quiet:
        print(format_report(report))
    return report


COMMANDS = {
    "search": _cmd_search,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "reproduce": _cmd_reproduce,
    "list": _cmd_list,
    "compare": _cmd_compare,
    "config": _cmd_config,
    "show": _cmd_show,
    "export": _cmd_export,
    "predict": _cmd_predict,
    "bench": _cmd_bench,
}


def run() -> None:
    """The program's entry point (``mdlnas``, ``python -m mdlnas``): :func:`main`, then exit."""
    code = main()
    if launched():
        # Under torchrun, gloo's threads sometimes abort the interpreter's shutdown
        # ("terminate called without an active exception", about one run in 50 here) after
        # the process group was destroyed and every file was written, turning a finished
        # job's exit status into a failure. The work is done: leave without the shutdown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        # Output shorter than the buffer is written only now: a reader that went away
        # must show here, not in Python's flush at exit (exit status 120).
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`mdlnas list | head -1`): nothing left to tell it. Point
        # stdout at /dev/null so that Python's flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _main(argv: Sequence[str] | None) -> int:
    keep_freed_memory()  # this process is ours: steps reuse memory instead of faulting it in
    parser = build_parser()
    args = parser.parse_args(argv)
    # Which options were typed (not left at their defaults): they override a config file.
    args.given = given_options(build_parser(), sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result, reports = _run_command(args)
    except MdlnasError as exc:
        if type(exc).__name__ == "ReportedByMain":
            return 2  # rank 0 of a torchrun job prints this error; one line is enough
        if args.debug:
            traceback.print_exc()
        _print_error(_rank_prefix() + str(exc))
        return 2
    except KeyboardInterrupt:
        print("mdlnas: interrupted", file=sys.stderr)
        return 130
    if not reports:
        return 0
    if args.json:
        print(json.dumps(result, default=float))
    elif args.command in ("train", "evaluate"):
        print(json.dumps(result, indent=2, default=float))
    return 0


# Commands that run data-parallel under torchrun (docs/DISTRIBUTED.md).
PARALLEL_COMMANDS = ("search", "train")


def _run_command(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The command's result, and whether this process reports it: under torchrun only
    rank 0 prints, draws and logs, while every rank computes."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return COMMANDS[args.command](args), True
    if args.command not in PARALLEL_COMMANDS:
        raise ConfigError(
            f"only {' and '.join(f'`mdlnas {c}`' for c in PARALLEL_COMMANDS)} run under "
            f"torchrun; run `mdlnas {args.command}` as one process"
        )
    from mdlnas import distributed

    with distributed.session(args.device):
        reports = distributed.is_main()
        if not reports:
            args.quiet, args.json, args.no_plots, args.tensorboard = True, False, True, False
        return COMMANDS[args.command](args), reports


def _rank_prefix() -> str:
    """Names the rank of an error that a rank other than 0 raised on its own."""
    rank = os.environ.get("RANK", "0")
    return "" if rank == "0" else f"[rank {rank} of {os.environ.get('WORLD_SIZE')}] "


if __name__ == "__main__":
    sys.exit(main())
