"""``mdlnas compare``: several search strategies on the same data, space and budget."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mdlnas.cli.common import (
    Formatter,
    Subparsers,
    add_common,
    comma_list,
    progress,
)
from mdlnas.config import SearchConfig, TrainConfig
from mdlnas.data import DataConfig, dataset_names
from mdlnas.space.presets import SPACES
from mdlnas.workflow.run_config import DEFAULT_DATA


def add_parser(sub: Subparsers) -> None:
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
    c.add_argument("--strategies", type=comma_list, default=STRATEGY_ORDER,
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
    add_common(c)




def execute(args: argparse.Namespace) -> dict[str, Any]:
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
    rows = run_compare(config, args.out, progress(args))
    if not args.json and not args.quiet:
        print(format_table(rows))
        if args.seeds > 1:
            print(f"\nmean ± standard deviation over {args.seeds} seeds:\n")
            print(format_summary(rows))
        print(f"\nwritten to {args.out}/compare.csv and {args.out}/pareto.png")
    return {"out": str(args.out), "rows": rows, "summary": summarize(rows)}
