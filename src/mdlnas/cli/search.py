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
    open_tensorboard,
    progress,
)
from mdlnas.cli.options import add_options
from mdlnas.config import BUDGET_LAM_RANGE
from mdlnas.distributed import main_only, on_main
from mdlnas.errors import ConfigError
from mdlnas.workflow.options import search_options

if TYPE_CHECKING:  # imported where used: most commands need neither
    from mdlnas.report.tensorboard_log import TensorBoardLogger
    from mdlnas.search.darts import SearchResult
    from mdlnas.workflow.run_config import RunConfig

# Reported in Greydanus & Kobak's MNIST-1D paper (default 4,000 / 1,000 split).
REFERENCES = {
    "mnist1d": [("MLP (MNIST-1D paper)", 0.68, 15_210), ("CNN (MNIST-1D paper)", 0.94, 5_210)],
}

# What may accompany --resume: everything else comes from the run's config.toml.
RESUME_OPTIONS = {"command", "resume", "search_only", "retrain", "device", "quiet", "json",
                  "debug", "no_plots", "tensorboard"}


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
    add_options(s, search_options())
    s.add_argument("--out", type=Path, help="run directory (default: runs/DATA-TIME)")
    s.add_argument("--search-only", action="store_true", help="do not retrain and test")
    s.add_argument(
        "--retrain", type=int, metavar="K", default=0,
        help="family (--lam-range): also retrain up to K networks of its Pareto front on "
        "validation, each at its λ, test each once and add the scores to front.csv",
    )
    s.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the interrupted search of run directory DIR from its last checkpoint, "
        "with the options saved there",
    )
    s.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of settings (`mdlnas config --defaults` prints a complete one); "
        "options typed on the command line override it",
    )
    s.add_argument("--no-plots", action="store_true", help="do not draw DIR/plots at the end")
    add_tensorboard(s)
    add_common(s, device=False)  # --device is a setting: the run saves it



def _check_resume(args: argparse.Namespace) -> None:
    given = sorted("--" + name.replace("_", "-") for name in args.given - RESUME_OPTIONS)
    if given:
        raise ConfigError(
            f"--resume continues a run with the options saved in {args.resume}/config.toml; "
            f"drop {', '.join(given)}"
        )


def _check_retrain(args: argparse.Namespace, run: RunConfig) -> None:
    """Before any work: --retrain needs a family to retrain networks of."""
    if args.retrain and run.search.family_range is None:
        raise ConfigError("--retrain K retrains networks of a family; give --lam-range LO:HI "
                          "(or a budget, --max-weights N)")


def execute(args: argparse.Namespace) -> dict[str, Any]:
    from mdlnas.cli.options import search_run_config
    from mdlnas.workflow import load_run_config
    from mdlnas.workflow.config_file import load_config_file

    if args.retrain < 0:
        raise ConfigError(f"--retrain takes a number of networks, 0 or more; got {args.retrain}")
    if args.resume is not None:
        _check_resume(args)
        saved = on_main(lambda: load_run_config(args.resume))
        _check_retrain(args, saved)
        if args.device != "auto":  # a run may move between machines
            saved = replace(saved, search=replace(saved.search, device=args.device),
                            train=replace(saved.train, device=args.device))
        return _search_and_retrain(args, saved, args.resume, resume=True)
    file_tables = on_main(lambda: load_config_file(args.config)) if args.config else None
    run = search_run_config(args, args.given, file_tables)
    if "lam" in args.given and "lam_range" in args.given:
        raise ConfigError("--lam-range searches a family of λ and replaces --lam; give one")
    if "lam" in args.given and run.search.family_range is not None:
        raise ConfigError("a budget (--max-weights, --max-macs) searches the family of λ "
                          f"{BUDGET_LAM_RANGE} and replaces --lam; to choose the family, "
                          "give --lam-range LO:HI instead of --lam")
    _check_retrain(args, run)
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
    from mdlnas.workflow.run_dir import SUMMARY_FILE

    say = progress(args)

    def report() -> dict[str, Any]:
        summary = read_json(out / SUMMARY_FILE)
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
    if args.retrain:
        from mdlnas.report.run_plots import draw_run_plots
        from mdlnas.workflow.jobs import run_retrain_front

        run_retrain_front(out, args.retrain, say)  # every rank: data-parallel retraining
        if not args.no_plots:
            main_only(lambda: draw_run_plots(out))
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
    if "family" in summary:
        from mdlnas.workflow.family import format_front, read_front

        front = read_front(Path(summary["run_dir"]))
        print(f"\nthe family ({len(front)} values of λ):\n"
              + format_front(front, front[0]["metric"] if front else "metric"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'model':<{width}}  {'test ' + metric:>13}  {'params':>8}  {'DL (bits)':>10}")
    for name, value, params, dl in rows:
        print(f"{name:<{width}}  {value:>13}  {params:>8}  {dl:>10}")
    print(f"\nrun directory: {summary['run_dir']}")
