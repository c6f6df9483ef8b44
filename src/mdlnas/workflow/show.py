"""``mdlnas show DIR``: what a run directory holds, readably, and its pictures.

A search run directory (``config.toml``, ``genotype.json``, ``summary.json``, ...) shows
its data, space, search, the test scores once retrained, the genotype and the last epoch;
an unfinished one says how far it got and how to resume. A ``mdlnas compare`` directory
(``compare.csv``) shows its table. ``draw_plots`` (re)draws ``DIR/plots/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdlnas.errors import MdlnasError
from mdlnas.report.run_files import FRONT_FILE, METRICS_FILE, PLOTS_DIR, read_rows
from mdlnas.report.run_plots import draw_run_plots
from mdlnas.search.checkpoint import checkpoint_path
from mdlnas.space.genotype import Genotype
from mdlnas.workflow import run_dir as files
from mdlnas.workflow.family import format_front, read_front

COMPARE_FILE = "compare.csv"
_INT_COLUMNS = ("seed", "params", "evaluations")


def run_overview(run_dir: Path) -> dict[str, Any]:
    """Everything :func:`format_overview` prints, as JSON-ready data."""
    if (run_dir / COMPARE_FILE).is_file():
        return {"run_dir": str(run_dir), "kind": "compare", "rows": _compare_rows(run_dir)}
    run = files.load_run_config(run_dir)  # names a folder that is not a run directory
    overview: dict[str, Any] = {
        "run_dir": str(run_dir),
        "kind": "search",
        "data": run.data.name,
        "files": [name for name in files.RUN_FILES if (run_dir / name).exists()],
    }
    summary = files.read_json_if_present(run_dir / files.SUMMARY_FILE)
    if summary is not None:
        summary.pop("gammas", None)  # in alphas.csv, readably; too long for a summary
        overview["summary"] = summary
    evaluation = files.read_json_if_present(run_dir / files.EVAL_FILE)
    if evaluation is not None:
        overview["eval"] = evaluation
    if files.has_genotype(run_dir):
        overview["genotype"] = files.load_genotype(run_dir).to_dict()
    if (run_dir / METRICS_FILE).is_file():
        rows = read_rows(run_dir / METRICS_FILE)
        if rows:
            overview["last_epoch"] = rows[-1]
    overview["max_epochs"] = run.search.epoch_limit
    if (run_dir / FRONT_FILE).is_file():
        overview["front"] = read_front(run_dir)
    return overview


def _compare_rows(run_dir: Path) -> list[dict[str, Any]]:
    rows = read_rows(run_dir / COMPARE_FILE)
    for row in rows:
        for key in _INT_COLUMNS:
            if isinstance(row.get(key), float):
                row[key] = int(row[key])
    return rows


def format_overview(overview: dict[str, Any]) -> str:
    if overview["kind"] == "compare":
        from mdlnas.workflow.compare import format_summary, format_table

        rows = overview["rows"]
        body = format_table(rows) if rows else "(no strategy has finished yet)"
        if len(rows) > len({row["strategy"] for row in rows}):  # some strategy has 2+ seeds
            body += "\n\nmean ± standard deviation over seeds:\n\n" + format_summary(rows)
        return f"comparison in {overview['run_dir']} ({COMPARE_FILE}):\n\n{body}"
    lines = [f"run directory {overview['run_dir']}"]
    summary, evaluation = overview.get("summary"), overview.get("eval")
    last = overview.get("last_epoch")
    if summary is None:
        done = int(last["epoch"]) if last else 0
        lines.append(
            f"  search      not finished: {done} of at most {overview['max_epochs']} epochs "
            f"done; continue with `mdlnas search --resume {overview['run_dir']}`"
        )
    else:
        lines += _search_lines(summary)
    if evaluation is not None:
        lines.append(_test_line(evaluation))
    elif summary is not None:
        lines.append(f"  test        not retrained yet: `mdlnas train {overview['run_dir']}`")
    if last:
        lines.append(
            f"  last epoch  {int(last['epoch'])}: train F {last['train_loss']:.4f}, val NLL "
            f"{last['val_nll']:.4f}, DL {last['description_length_bits']:,.0f} bits, H(α) "
            f"{last['alpha_entropy']:.3f}"
        )
    lines.append(f"  files       {', '.join(overview['files'])}")
    front = overview.get("front")
    if front:
        lines += ["", f"the family ({FRONT_FILE}):", format_front(front, front[0]["metric"])]
    if "genotype" in overview:
        lines += ["", "genotype:", Genotype.from_dict(overview["genotype"]).describe()]
    return "\n".join(lines)


def _search_lines(summary: dict[str, Any]) -> list[str]:
    state = "converged" if summary.get("converged") else "stopped at the epoch limit"
    family = summary.get("family")
    lam = (f"a family of λ {family['lam_range']}{_budget(family)}, the network of "
           f"λ={summary.get('lam', 0):.3g}" if family else f"λ={summary.get('lam')}")
    return [
        f"  data        {summary.get('dataset')}; space {summary.get('space')}; strategy "
        f"{summary.get('strategy')} ({lam}, ξ={summary.get('xi')})",
        f"  search      {summary.get('epochs_run')} epochs ({state}) in "
        f"{summary.get('search_seconds', 0):.1f} s",
        f"  supernet    {summary.get('supernet_params', 0):,} weights, DL "
        f"{summary.get('description_length_bits', 0):,.0f} bits, validation "
        f"{summary.get('metric')} {summary.get('val_metric', float('nan')):.4f}",
        f"  genotype    {summary.get('genotype_params', 0):,} weights",
    ]


def _budget(family: dict[str, Any]) -> str:
    limits = [f"≤ {family[key]:,} {unit}" for key, unit in (("max_weights", "weights"),
                                                            ("max_macs", "MACs"))
              if family.get(key) is not None]
    return f", budget {' and '.join(limits)}" if limits else ""


def _test_line(evaluation: dict[str, Any]) -> str:
    if "test_accuracy" in evaluation:
        score = f"accuracy {evaluation['test_accuracy']:.4f}"
    else:
        score = f"RMSE {evaluation.get('test_rmse', float('nan')):.4f}"
    pruned = " (after pruning)" if "pruning" in evaluation else ""
    return (
        f"  test        {score}{pruned}, NLL {evaluation.get('test_nll', float('nan')):.4f}, "
        f"{evaluation.get('params', 0):,} params, DL "
        f"{evaluation.get('description_length_bits', 0):,.0f} bits"
    )


def draw_plots(run_dir: Path) -> list[Path]:
    """(Re)draw ``run_dir/plots``: a search run's pictures, or a comparison's Pareto
    picture. A search that has not finished has no genotype to draw yet."""
    if (run_dir / COMPARE_FILE).is_file():
        from mdlnas.workflow.compare import draw_pareto

        rows = _compare_rows(run_dir)
        if not rows:
            return []
        (run_dir / PLOTS_DIR).mkdir(exist_ok=True)
        path = run_dir / PLOTS_DIR / "pareto.png"
        draw_pareto(rows, path, title=f"{run_dir.name}: test error against size")
        return [path]
    files.load_run_config(run_dir)
    if not files.has_genotype(run_dir):
        remedy = (f"continue it with `mdlnas search --resume {run_dir}`"
                  if checkpoint_path(run_dir).exists() else "run `mdlnas search`")
        raise MdlnasError(f"{run_dir} has no genotype yet (the search has not finished); "
                          f"{remedy}")
    return draw_run_plots(run_dir)
