"""Time series as users bring them: UCR / UEA sets from a CSV file, through the command line.

The data sets are those sktime ships inside its package (no download): GunPoint (200
series of 150 steps, 2 classes), ItalyPowerDemand (1,096 × 24, 2 classes) and BasicMotions
(80 series of 6 channels × 100 steps, 4 classes). Each set's own train and test files are
joined and written as a CSV (``label`` first, then one column per time step, channels one
after another) and an NPZ (``X`` of shape (n, channels, length)). Then per seed:

* mdlnas: ``python -m mdlnas search --data SET.csv --target label --signal C --seed S ...``
  exactly as a user types it; its test accuracy and weight count come from ``eval.json``;
* on the same split (``load_data(SET.csv, target="label", signal=C, seed=S)``: trained on
  the training and validation rows, as mdlnas's retraining with refit is, scored once on
  the test rows): LogisticRegression on standardised steps, 1-nearest-neighbour
  (Euclidean, the UCR archive's baseline) and a random forest of 300 trees.

    python benchmarks/timeseries.py --seeds 0,1,2 --out benchmarks/out/timeseries

writes ``rows.jsonl`` (one row per set, method and seed, with its command) and
``table.md`` (mean ± sample std over the seeds). ``--report-only`` rebuilds the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Row = dict[str, Any]
SETS = {  # name: sktime loader
    "GunPoint": "load_gunpoint",
    "ItalyPowerDemand": "load_italy_power_demand",
    "BasicMotions": "load_basic_motions",
}
BASELINES = ("logistic-regression", "1-nn", "random-forest")


def export_set(name: str, out: Path) -> tuple[Path, int]:
    """The set as ``out/NAME.csv`` and ``out/NAME.npz``; returns the CSV and its channels."""
    from sktime import datasets

    load = getattr(datasets, SETS[name])
    parts = [load(split=split, return_X_y=True, return_type="numpy3D")
             for split in ("train", "test")]
    x = np.concatenate([p[0] for p in parts])  # (n, channels, length)
    y = np.concatenate([p[1] for p in parts]).astype(str)
    n, channels, length = x.shape
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"{name}.npz", X=x, y=y)
    columns = [f"t{t}" if channels == 1 else f"c{c}_t{t}"
               for c in range(channels) for t in range(length)]
    flat = x.reshape(n, channels * length)  # channel-major: the --signal layout
    lines = [",".join(["label", *columns])]
    lines += [",".join([label, *(repr(float(v)) for v in row)])
              for label, row in zip(y, flat, strict=True)]
    csv = out / f"{name}.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv, channels


def mdlnas_row(csv: Path, channels: int, seed: int, args: argparse.Namespace) -> Row:
    run_dir = args.out / "runs" / f"{csv.stem}-seed{seed}"
    command = [
        sys.executable, "-m", "mdlnas", "search", "--data", str(csv), "--target", "label",
        "--signal", str(channels), "--seed", str(seed), "--epochs", str(args.epochs),
        "--train-epochs", str(args.train_epochs), "--out", str(run_dir), "--device", "cpu",
        "--quiet", "--json", "--no-plots", *args.extra.split(),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    ev = json.loads((run_dir / "eval.json").read_text())
    return {"method": "mdlnas", "accuracy": ev["test_accuracy"], "params": ev["params"],
            "seconds": round(time.perf_counter() - start, 1),
            "command": " ".join(["python", *command[1:]]).replace(str(args.out), "OUT")}


def baseline_rows(csv: Path, channels: int, seed: int) -> list[Row]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mdlnas.data import load_data

    data = load_data(csv, target="label", signal=channels, seed=seed)
    assert data.scaling is not None

    def raw(x: np.ndarray) -> np.ndarray:  # back to the file's values, one row a series
        unscaled: np.ndarray = x * data.scaling.x_std + data.scaling.x_mean  # type: ignore[union-attr]
        return unscaled.reshape(len(x), -1)

    x_fit = raw(np.concatenate([data.train.x, data.val.x]))
    y_fit = np.concatenate([data.train.y, data.val.y])
    x_test, y_test = raw(data.test.x), data.test.y
    models: dict[str, Callable[[], Any]] = {
        "logistic-regression": lambda: make_pipeline(StandardScaler(),
                                                     LogisticRegression(max_iter=5000)),
        "1-nn": lambda: KNeighborsClassifier(n_neighbors=1),
        "random-forest": lambda: RandomForestClassifier(n_estimators=300, random_state=seed),
    }
    rows = []
    for method, make in models.items():
        model = make().fit(x_fit, y_fit)
        accuracy = float((model.predict(x_test) == y_test).mean())
        rows.append({"method": method, "accuracy": accuracy, "params": _params(model),
                     "command": f"python benchmarks/timeseries.py --seeds {seed} "
                     f"(baseline {method}, same split as load_data(seed={seed}))"})
    return rows


def _params(model: Any) -> int | None:
    final = model[-1] if hasattr(model, "steps") else model
    if hasattr(final, "coef_"):
        return int(final.coef_.size + final.intercept_.size)
    return None  # 1-NN stores the training set; a forest's size is not weights


def table(rows: list[Row]) -> str:
    lines = ["| data set | method | test accuracy (mean ± std) | per seed | weights |",
             "|---|---|---|---|---|"]
    for name in SETS:
        for method in ("mdlnas", *BASELINES):
            chosen = sorted((r for r in rows if r["set"] == name and r["method"] == method),
                            key=lambda r: r["seed"])
            if not chosen:
                continue
            acc = [r["accuracy"] for r in chosen]
            spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
            params = [r["params"] for r in chosen if r["params"] is not None]
            size = "-" if not params else " / ".join(f"{p:,}" for p in params)
            seeds = ", ".join(f"{a:.3f}" for a in acc)
            lines.append(f"| {name} | {method} | {statistics.mean(acc):.3f} ± {spread:.3f} | "
                         f"{seeds} | {size} |")
    lines += ["", "Commands (mdlnas, per seed):", ""]
    lines += [f"- {r['set']} seed {r['seed']}: `{r['command']}` → {r['accuracy']:.3f}, "
              f"{r['params']:,} weights, {r['seconds']} s"
              for r in rows if r["method"] == "mdlnas"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", default="0,1,2")
    # mdlnas's own defaults: with 10 search epochs of which 3 calibrate, GunPoint's search
    # fell to parameter-free cells (0.43-0.53 test accuracy, 42-170 weights, 3 seeds)
    parser.add_argument("--epochs", type=int, default=20, help="search epochs")
    parser.add_argument("--train-epochs", type=int, default=150, help="retraining epochs")
    parser.add_argument("--extra", default="", help="more options for mdlnas search")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/timeseries"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    rows_path = args.out / "rows.jsonl"
    if not args.report_only:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.sets.split(","):
            csv, channels = export_set(name, args.out / "data")
            for seed in (int(s) for s in args.seeds.split(",")):
                found = [mdlnas_row(csv, channels, seed, args), *baseline_rows(csv, channels, seed)]
                with rows_path.open("a") as handle:
                    for row in found:
                        row.update(set=name, seed=seed)
                        handle.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    (args.out / "table.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
