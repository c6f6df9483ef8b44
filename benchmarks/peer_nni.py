"""mdlnas against NNI 3.0's DARTS (first order), side by side in one run (issue 7).

    python benchmarks/peer_nni.py --out benchmarks/out/peer-nni --seeds 0,1,2 --epochs 20

Same search space (mdlnas's ``mlp`` preset, rewritten with NNI's ``LayerChoice`` in
``nni_darts_worker.py``), same data (``digits``, mdlnas's split and scaling, handed to NNI
as an ``.npz``), same batch size (mdlnas's default for the data), same epochs, same
optimisers, one torch thread each. Per seed, in turn: mdlnas in plain DARTS mode (λ = 0,
point weights, ξ = 0), NNI's DARTS, and mdlnas's own method (λ = 1, variational) for
reference. Every found architecture is derived by the same rule from its mixing weights
(argmax per edge, ``zero`` included: NNI's export does the same) and retrained by the same
mdlnas retraining (point weights, ``--train-epochs``), then tested once.

NNI runs in its own virtual environment (``--venv``), created on first use with
``pip install torch==2.13.0 nni==3.0 pytorch-lightning scikit-learn``. Not part of CI.

Time per epoch: the median over epochs of each side's own epoch timer (mdlnas: the
``seconds`` of its epoch record, which include its validation pass; NNI: a Lightning
callback around each training epoch). Writes ``OUT/rows.json`` and ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):  # run as `python benchmarks/peer_nni.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdlnas.config import BayesConfig, SearchConfig, TrainConfig, batch_size_for
from mdlnas.data import DataConfig
from mdlnas.data.bundle import DataBundle
from mdlnas.data.catalog import load
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.method import derive_genotype
from mdlnas.space.genotype import Genotype
from mdlnas.space.presets import make_space
from mdlnas.train.retrain import evaluate, retrain

WORKER = Path(__file__).resolve().with_name("nni_darts_worker.py")
NNI_PACKAGES = ("torch==2.13.0", "nni==3.0", "pytorch-lightning", "scikit-learn")
POINT = BayesConfig(variational=False)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *NNI_PACKAGES], check=True)
    return python


def mdlnas_search(data: DataBundle, seed: int, epochs: int, batch: int,
                  variational: bool) -> tuple[dict[str, np.ndarray], list[float]]:
    config = SearchConfig(
        lam=1.0 if variational else 0.0, xi=0.0, max_epochs=epochs, tol=0.0,
        batch_size=batch, seed=seed, device="cpu",
        bayes=BayesConfig() if variational else POINT,
    )
    state = BilevelSearch(data, make_space("mlp"), config)
    while not state.finished:
        state.run_epoch()
    return state.gammas(), [r.seconds for r in state.history]


def nni_search(python: Path, data: DataBundle, seed: int, epochs: int, batch: int,
               work: Path) -> tuple[dict[str, np.ndarray], list[float], dict[str, Any]]:
    work = work.resolve()
    npz, out = work / f"digits-{seed}.npz", work / f"nni-{seed}.json"
    np.savez(npz, x_train=data.train.x, y_train=data.train.y, x_val=data.val.x,
             y_val=data.val.y, n_classes=data.n_classes)
    command = [str(python), str(WORKER), "--data", str(npz), "--out", str(out),
               "--epochs", str(epochs), "--batch-size", str(batch), "--seed", str(seed)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = work / f"nni-{seed}.log"
    with log.open("w") as sink:
        subprocess.run(command, check=True, env=env, stdout=sink, stderr=subprocess.STDOUT,
                       cwd=work)
    result = json.loads(out.read_text())
    ops = make_space("mlp").ops
    order = [result["ops"].index(op) for op in ops]  # NNI's columns in mdlnas's op order
    gammas = np.asarray(result["gammas"], dtype=np.float32)[:, order]
    return {"normal": gammas}, list(result["epoch_seconds"]), result


def retrain_and_test(genotype: Genotype, data: DataBundle, seed: int,
                     epochs: int) -> dict[str, Any]:
    config = TrainConfig(epochs=epochs, lam=0.0, seed=seed, device="cpu", bayes=POINT)
    trained = retrain(genotype, data, config)
    return evaluate(trained.model, data)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    python = ensure_venv(args.venv)
    space = make_space("mlp")
    rows = []
    for seed in args.seeds:
        data = load(DataConfig(name="digits", seed=seed))
        batch = batch_size_for(None, len(data.train), largest=128)  # mdlnas's default
        sides = {
            "mdlnas DARTS (λ = 0, point weights)":
                lambda d=data, s=seed, b=batch: mdlnas_search(d, s, args.epochs, b, False),
            "NNI 3.0 DARTS (first order)":
                lambda d=data, s=seed, b=batch: nni_search(python, d, s, args.epochs, b,
                                                           args.out)[:2],
            "mdlnas (λ = 1, variational)":
                lambda d=data, s=seed, b=batch: mdlnas_search(d, s, args.epochs, b, True),
        }
        for method, search in sides.items():
            start = time.perf_counter()
            gammas, epoch_seconds = search()
            wall = time.perf_counter() - start
            genotype = derive_genotype(gammas, space, data.task, data.input_shape,
                                       data.output_dim)
            tested = retrain_and_test(genotype, data, seed, args.train_epochs)
            rows.append({
                "method": method, "seed": seed, "batch_size": batch, "epochs": args.epochs,
                "epoch_seconds_median": statistics.median(epoch_seconds),
                "epoch_seconds": epoch_seconds, "search_wall_seconds": wall,
                "test_accuracy": tested["test_accuracy"], "params": tested["params"],
                "genotype": genotype.to_dict(),
            })
            print(f"seed {seed} {method}: {rows[-1]['epoch_seconds_median']:.3f} s/epoch, "
                  f"test accuracy {tested['test_accuracy']:.4f}", flush=True)
    (args.out / "rows.json").write_text(json.dumps(rows, indent=1))
    (args.out / "table.md").write_text(table(rows, args))
    return rows


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    base = "NNI 3.0 DARTS (first order)"
    nni = {r["seed"]: r["epoch_seconds_median"] for r in rows if r["method"] == base}
    lines = ["| method | s / epoch (median) | speed-up over NNI | test accuracy | weights |",
             "|---|---|---|---|---|"]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        sec = [r["epoch_seconds_median"] for r in mine]
        speed = [nni[r["seed"]] / r["epoch_seconds_median"] for r in mine]
        acc = [r["test_accuracy"] for r in mine]
        params = [r["params"] for r in mine]
        lines.append(f"| {method} | {_ms(sec)} | {_ms(speed, 2)}× | {_ms(acc, 3)} | "
                     f"{_ms(params, 0)} |")
    seeds = ",".join(str(s) for s in args.seeds)
    lines.append(f"\n{len(args.seeds)} seeds ({seeds}); mean ± sample std over seeds. "
                 f"Command: `python benchmarks/peer_nni.py --out {args.out} --seeds {seeds} "
                 f"--epochs {args.epochs} --train-epochs {args.train_epochs}`")
    return "\n".join(lines) + "\n"


def _ms(values: list[float], digits: int = 3) -> str:
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seeds", type=lambda t: [int(s) for s in t.split(",")], default=[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--train-epochs", type=int, default=30)
    p.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "mdlnas" / "nni-venv",
                   help="NNI's virtual environment (created when missing)")
    run(p.parse_args())


if __name__ == "__main__":
    main()
