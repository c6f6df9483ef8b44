"""Search time per epoch against the dataset size and the number of cell nodes (issue 7).

    python benchmarks/scaling.py --out docs/results/scaling

One process, one torch thread, synthetic data of the shape each space is made for
(``mdlnas.workflow.bench.synthetic_data``; the values do not change the work). Per point: a
``BilevelSearch`` with the space's defaults except the varied setting, mdlnas's default
batch size for the data (a tenth of the rows, 16 to 128), first order, λ = 1, variational
weights; ``--epochs`` epochs of which the first is a warm-up, the median of the rest is
reported. The validation part is a quarter of the training part, as in mdlnas's splits.
Writes ``OUT/scaling.json`` and ``OUT/scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as `python benchmarks/scaling.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdlnas.config import SearchConfig
from mdlnas.data.bundle import DataBundle
from mdlnas.search.darts import BilevelSearch
from mdlnas.space.presets import SpaceOverrides, make_space
from mdlnas.workflow.bench import synthetic_data


def data_of(dim: int, n_train: int, seed: int = 0) -> DataBundle:
    train, val = synthetic_data(dim, n_train, seed), synthetic_data(dim, n_train // 4, seed + 1)
    return DataBundle("synthetic", "classification", train.train, val.train, val.train,
                      train.input_shape, train.n_classes)


def epoch_seconds(space_name: str, n_train: int, n_nodes: int | None, epochs: int) -> float:
    space = make_space(space_name, SpaceOverrides(n_nodes=n_nodes))
    search = BilevelSearch(data_of(space.dim, n_train), space,
                           SearchConfig(max_epochs=epochs, tol=0.0, device="cpu"))
    seconds = [search.run_epoch().seconds for _ in range(epochs)]
    return statistics.median(seconds[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--mlp-sizes", default="500,1000,2000,4000,8000,16000")
    p.add_argument("--conv1d-sizes", default="250,500,1000,2000")
    p.add_argument("--nodes", default="1,2,3,4,5,6")
    p.add_argument("--nodes-rows", type=int, default=2000, help="rows for the nodes sweep")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []

    def measure(space: str, n_train: int, n_nodes: int | None, sweep: str) -> None:
        s = epoch_seconds(space, n_train, n_nodes, args.epochs)
        nodes = n_nodes if n_nodes is not None else make_space(space).n_nodes
        rows.append({"sweep": sweep, "space": space, "n_train": n_train, "n_nodes": nodes,
                     "epoch_seconds": s})
        print(f"{sweep}: {space} rows {n_train} nodes {nodes}: {s:.3f} s/epoch", flush=True)

    for n in (int(v) for v in args.mlp_sizes.split(",")):
        measure("mlp", n, None, "rows")
    for n in (int(v) for v in args.conv1d_sizes.split(",")):
        measure("conv1d", n, None, "rows")
    for k in (int(v) for v in args.nodes.split(",")):
        measure("mlp", args.nodes_rows, k, "nodes")
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/scaling.py " + " ".join(sys.argv[1:])
    (args.out / "scaling.json").write_text(json.dumps({"command": command, "rows": rows},
                                                      indent=1))
    plot(rows, args.out / "scaling.png")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for space in ("mlp", "conv1d"):
        pts = [r for r in rows if r["sweep"] == "rows" and r["space"] == space]
        left.loglog([r["n_train"] for r in pts], [r["epoch_seconds"] for r in pts], "o-",
                    label=f"{space} ({pts[0]['n_nodes']} nodes)" if pts else space)
    left.set_xlabel("training rows")
    left.set_ylabel("seconds per search epoch")
    left.set_title("against dataset size")
    left.legend()
    pts = [r for r in rows if r["sweep"] == "nodes"]
    edges = [r["n_nodes"] * (r["n_nodes"] + 1) // 2 for r in pts]
    right.plot([r["n_nodes"] for r in pts], [r["epoch_seconds"] for r in pts], "o-",
               label=f"mlp, {pts[0]['n_train']} rows" if pts else "mlp")
    for x, y, e in zip([r["n_nodes"] for r in pts], [r["epoch_seconds"] for r in pts], edges,
                       strict=True):
        right.annotate(f"{e} edges", (x, y), textcoords="offset points", xytext=(4, -10),
                       fontsize=8)
    right.set_xlabel("nodes per cell")
    right.set_title("against cell size")
    right.legend()
    fig.suptitle("mdlnas search: first order, λ = 1, variational, 1 thread (2-core machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
