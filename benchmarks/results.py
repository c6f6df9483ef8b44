"""The results campaign behind docs/RESULTS.md: mdlnas (λ = 1) against plain DARTS and
reference models, per dataset and seed, each run as a user would run it.

    python benchmarks/results.py --datasets digits,wine --methods mdl,darts,references \\
        --seeds 0,1,2 --out benchmarks/out/sklearn

Every run is a subprocess (``python -m mdlnas search ... --quiet --json`` for mdl / darts,
``python benchmarks/references.py ...`` for a reference) whose JSON is turned into one row
of ``OUT/rows.jsonl``, with the exact command. Rows already there are skipped, so an
interrupted campaign continues where it stopped; a failed run goes to
``OUT/failures.jsonl`` and is retried next time. At the end ``OUT/table.md`` (mean ± sample
std over seeds, the commands under each table) and ``OUT/pareto_<dataset>.png`` are written;
``--report-only`` rebuilds them from the rows (see ``report.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/results.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.references import REFERENCES, references_for
from benchmarks.report import SEARCH_METHODS, SEED_PLACEHOLDER, write_report

Row = dict[str, Any]
Key = tuple[str, str, int]  # (dataset, method, seed)

DARTS_FLAGS = ("--lam", "0", "--deterministic", "--train-deterministic")
REFERENCE_SCRIPT = Path(__file__).resolve().with_name("references.py")


# -- settings and commands --------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """What every run of one campaign shares; a campaign directory keeps one set."""

    epochs: int | None = None  # mdlnas --epochs (search)
    train_epochs: int | None = None  # mdlnas --train-epochs
    n_train: int | None = None  # both mdlnas and the references
    extra: str = ""  # more `mdlnas search` options, for mdl and darts alike
    data_dir: str | None = None
    ref_epochs: int | None = None  # LeNet-5 epochs
    ref_steps: int | None = None  # MNIST-1D reference steps
    ref_select: str = "last"
    threads: int | None = 1  # OMP_NUM_THREADS / MKL_NUM_THREADS of every run
    device: str = "auto"


@dataclass(frozen=True)
class Run:
    dataset: str
    method: str
    seed: int
    argv: tuple[str, ...]  # argv[0] == "python": the interpreter running this script
    template: str  # the command with the seed replaced by SEED

    @property
    def key(self) -> Key:
        return (self.dataset, self.method, self.seed)


def _relative(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def search_argv(dataset: str, method: str, seed: int | str, out: Path, s: Settings) -> list[str]:
    """`python -m mdlnas search ...` for method ``mdl`` (defaults: λ = 1, variational) or
    ``darts`` (λ = 0, point weights in the search and the retraining)."""
    run_dir = out / "runs" / f"{dataset}-{method}-s{seed}"
    argv = ["python", "-m", "mdlnas", "search", "--data", dataset, "--seed", str(seed)]
    argv += ["--out", str(run_dir), "--quiet", "--json"]
    for flag, value in (
        ("--epochs", s.epochs),
        ("--train-epochs", s.train_epochs),
        ("--n-train", s.n_train),
        ("--data-dir", s.data_dir),
    ):
        if value is not None:
            argv += [flag, str(value)]
    if s.device != "auto":
        argv += ["--device", s.device]
    argv += shlex.split(s.extra)
    if method == "darts":
        argv += DARTS_FLAGS  # last, so that --extra cannot turn DARTS back into λ > 0
    return argv


def reference_argv(dataset: str, model: str, seed: int | str, s: Settings) -> list[str]:
    argv = ["python", _relative(REFERENCE_SCRIPT), "--data", dataset, "--model", model]
    argv += ["--seed", str(seed)]
    if s.n_train is not None:
        argv += ["--n-train", str(s.n_train)]
    if s.data_dir is not None:
        argv += ["--data-dir", s.data_dir]
    is_torch = model == "lenet5" or model.startswith("mnist1d-")
    if model == "lenet5" and s.ref_epochs is not None:
        argv += ["--epochs", str(s.ref_epochs)]
    if model.startswith("mnist1d-") and s.ref_steps is not None:
        argv += ["--steps", str(s.ref_steps)]
    if is_torch and s.ref_select != "last":
        argv += ["--select", s.ref_select]
    if is_torch and s.device != "auto":
        argv += ["--device", s.device]
    return argv


def command_argv(dataset: str, method: str, seed: int | str, out: Path, s: Settings) -> list[str]:
    if method in SEARCH_METHODS:
        return search_argv(dataset, method, seed, out, s)
    return reference_argv(dataset, method, seed, s)


def display(argv: Sequence[str], threads: int | None) -> str:
    """The command as a user types it (with the thread setting in front)."""
    prefix = f"OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} " if threads else ""
    return prefix + shlex.join(argv)


def expand_methods(
    dataset: str, methods: Sequence[str], s: Settings
) -> list[str]:
    """``references`` stands for the dataset's reference models."""
    expanded: list[str] = []
    for method in methods:
        if method == "references":
            expanded += references_for(dataset, n_train=s.n_train, data_dir=s.data_dir)
        else:
            expanded.append(method)
    return list(dict.fromkeys(expanded))


def plan(
    datasets: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    s: Settings,
) -> list[Run]:
    """Every run of the campaign, seed by seed, so a partial campaign has all methods."""
    runs: list[Run] = []
    for dataset in datasets:
        names = expand_methods(dataset, methods, s)
        for seed in seeds:
            for method in names:
                argv = command_argv(dataset, method, seed, out, s)
                template = display(command_argv(dataset, method, SEED_PLACEHOLDER, out, s),
                                   s.threads)
                runs.append(Run(dataset, method, seed, tuple(argv), template))
    return runs


def pending(runs: Sequence[Run], rows: Iterable[Row]) -> list[Run]:
    """The runs that have no row yet (resuming an interrupted campaign)."""
    done = {row_key(row) for row in rows}
    return [run for run in runs if run.key not in done]


def row_key(row: Row) -> Key:
    return (str(row["dataset"]), str(row["method"]), int(row["seed"]))


# -- rows -------------------------------------------------------------------------------
def read_rows(path: Path) -> list[Row]:
    """Rows of a JSON-lines file; a line cut short by an interruption is skipped."""
    if not path.is_file():
        return []
    rows: list[Row] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"warning: {path}:{number} is not a complete row; skipped", file=sys.stderr)
    return rows


def append_row(path: Path, row: Row) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row, default=float) + "\n")
        f.flush()
        os.fsync(f.fileno())


def row_from_search(summary: Row, dataset: str, method: str, seed: int) -> Row:
    """A row from the JSON that `mdlnas search --json` prints."""
    ev = summary["eval"]
    metric = "accuracy" if "test_accuracy" in ev else "rmse"
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "metric": metric,
        f"test_{metric}": ev[f"test_{metric}"],
        "test_nll": ev.get("test_nll"),
        "params": ev["params"],
        "nonzero_params": ev.get("nonzero_params"),
        "flops": ev.get("flops"),
        # Point weights (DARTS) have no description length; mdlnas reports 0 for them.
        "description_length_bits": None if method == "darts" else ev["description_length_bits"],
        "search_seconds": summary["search_seconds"],
        "train_seconds": ev["train_seconds"],
        "lam": summary.get("lam"),
        "xi": summary.get("xi"),
        "space": summary.get("space"),
        "epochs_run": summary.get("epochs_run"),
        "converged": summary.get("converged"),
        "best_epoch": ev.get("best_epoch"),
        "run_dir": summary.get("run_dir"),
    }


class RunFailed(Exception):
    pass


def _last_json(stdout: str) -> Row:
    for line in reversed(stdout.splitlines()):
        if line.strip().startswith("{"):
            payload: Row = json.loads(line)
            return payload
    raise RunFailed("the command printed no JSON")


def execute(run: Run, s: Settings, timeout: float | None = None) -> Row:
    """Run one command and turn its JSON into a row (RunFailed when it fails)."""
    env = dict(os.environ)
    if s.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(s.threads)
    argv = [sys.executable, *run.argv[1:]]
    if run.method in SEARCH_METHODS:
        run_dir = Path(run.argv[run.argv.index("--out") + 1])
        if (run_dir / "checkpoints" / "search.pt").exists():  # an interrupted campaign
            argv = [sys.executable, "-m", "mdlnas", "search", "--resume", str(run_dir),
                    "--quiet", "--json"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"timed out after {timeout} s") from None
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RunFailed(f"exit status {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    payload = _last_json(proc.stdout)
    if run.method in SEARCH_METHODS:
        row = row_from_search(payload, run.dataset, run.method, run.seed)
    else:
        row = payload
    row["command"] = display(run.argv, s.threads)
    row["template"] = run.template
    row["wall_seconds"] = round(wall, 2)
    return row


# -- the campaign -----------------------------------------------------------------------
def environment() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.node()}: {os.cpu_count()} CPU cores, {gpu}, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def check_settings(out: Path, s: Settings) -> None:
    """A campaign directory holds rows of one set of settings; refuse to mix."""
    path = out / "campaign.json"
    saved = json.loads(path.read_text()) if path.is_file() else None
    if saved is not None and saved["settings"] != asdict(s):
        diff = {
            k: (saved["settings"].get(k), v)
            for k, v in asdict(s).items()
            if saved["settings"].get(k) != v
        }
        raise SystemExit(
            f"error: {out} was started with other settings (saved → now: {diff}); "
            "give the same settings to resume, or use a new --out"
        )


def record_invocation(out: Path, s: Settings, command: str) -> None:
    path = out / "campaign.json"
    saved: dict[str, Any] = (
        json.loads(path.read_text()) if path.is_file() else {"settings": asdict(s)}
    )
    saved.setdefault("invocations", []).append(
        {"command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
         "environment": environment()}
    )  # fmt: skip
    path.write_text(json.dumps(saved, indent=2) + "\n")


def _environments(out: Path) -> list[str]:
    path = out / "campaign.json"
    if not path.is_file():
        return []
    invocations = json.loads(path.read_text()).get("invocations", [])
    return list(dict.fromkeys(str(i["environment"]) for i in invocations))


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Run mdlnas (λ = 1), DARTS and reference models over datasets and seeds; "
        "write rows.jsonl, table.md and Pareto pictures.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="campaign directory")
    p.add_argument("--datasets", type=_names, default=[], help="comma-separated datasets")
    p.add_argument(
        "--methods",
        type=_names,
        default=["mdl", "darts", "references"],
        help=f"comma-separated from: mdl, darts, references (the dataset's reference models) "
        f"or a reference by name ({', '.join(REFERENCES)})",
    )
    p.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="comma-separated seeds")
    p.add_argument("--epochs", type=int, help="mdlnas search epochs (default: mdlnas's)")
    p.add_argument("--train-epochs", type=int, help="mdlnas retraining epochs (default: mdlnas's)")
    p.add_argument("--n-train", type=int, help="training rows, for every method")
    p.add_argument("--data-dir", help="directory holding dataset files (fashion-mnist)")
    p.add_argument("--extra", default="", help="more `mdlnas search` options for mdl and darts")
    p.add_argument("--ref-epochs", type=int, help="LeNet-5 epochs (default: references.py's)")
    p.add_argument("--ref-steps", type=int, help="MNIST-1D reference steps (default 8000)")
    p.add_argument("--ref-select", choices=("last", "best-val"), default="last",
                   help="torch references: final weights or best validation epoch")
    p.add_argument("--threads", type=int, default=1,
                   help="OMP/MKL threads per run (0: leave the environment's)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda, for every run")
    p.add_argument("--timeout", type=float, help="seconds before a run is given up")
    p.add_argument("--dry-run", action="store_true", help="print the pending commands only")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild table.md and the pictures from rows.jsonl")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out: Path = args.out
    rows_path = out / "rows.jsonl"
    if args.report_only:
        rows = read_rows(rows_path)
        if not rows:
            parser.error(f"{rows_path} holds no rows")
        for path in write_report(rows, out, _environments(out)):
            print(path)
        return 0
    if not args.datasets:
        parser.error("name the datasets: --datasets digits,wine")
    allowed = {*SEARCH_METHODS, "references", *REFERENCES}
    unknown = [m for m in args.methods if m not in allowed]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}")
    settings = Settings(
        epochs=args.epochs,
        train_epochs=args.train_epochs,
        n_train=args.n_train,
        extra=args.extra,
        data_dir=args.data_dir,
        ref_epochs=args.ref_epochs,
        ref_steps=args.ref_steps,
        ref_select=args.ref_select,
        threads=args.threads or None,
        device=args.device,
    )
    check_settings(out, settings)
    runs = plan(args.datasets, args.methods, args.seeds, out, settings)
    todo = pending(runs, read_rows(rows_path))
    print(f"{len(runs)} runs planned, {len(runs) - len(todo)} already done", file=sys.stderr)
    if args.dry_run:
        for run in todo:
            print(display(run.argv, settings.threads))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    given = sys.argv[1:] if argv is None else list(argv)
    campaign = shlex.join(["python", _relative(Path(__file__).resolve()), *given])
    if todo:
        record_invocation(out, settings, campaign)
    failures = 0
    for i, run in enumerate(todo, 1):
        label = f"[{i}/{len(todo)}] {run.dataset} {run.method} seed {run.seed}"
        print(f"{label} ...", file=sys.stderr, flush=True)
        try:
            row = execute(run, settings, args.timeout)
        except (RunFailed, json.JSONDecodeError, KeyError) as exc:
            failures += 1
            print(f"{label} FAILED: {exc}", file=sys.stderr)
            append_row(out / "failures.jsonl", {
                "dataset": run.dataset, "method": run.method, "seed": run.seed,
                "command": display(run.argv, settings.threads), "error": str(exc),
            })  # fmt: skip
            continue
        row["campaign"] = campaign
        append_row(rows_path, row)
        metric = row["metric"]
        print(
            f"{label}: test {metric} {row[f'test_{metric}']:.4f}, {row['params']:,} params, "
            f"{row['wall_seconds']:.1f} s",
            file=sys.stderr,
        )
    rows = read_rows(rows_path)
    if rows:
        for path in write_report(rows, out, _environments(out)):
            print(path)
    if failures:
        print(f"{failures} run(s) failed; see {out / 'failures.jsonl'}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
