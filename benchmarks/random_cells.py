"""Control for a search: its network's edges with ops drawn at random, retrained alike.

A search whose α ends near uniform still derives a genotype, from small differences
between the ops. Whether those differences chose anything is measured against the same
cells with each edge's op drawn uniformly from the non-zero ops (the same edges present),
retrained by ``mdlnas train`` with the run's own settings and data split, and tested once:

    python benchmarks/random_cells.py RUN_DIR [RUN_DIR ...] --draws 2 --out DIR

Each draw ``k`` of run ``R`` goes to ``DIR/R-randomK`` (the run's ``config.toml`` and the
new ``genotype.json``); one line per draw: weights and test accuracy, then the run's own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np

from mdlnas.space.genotype import CellGenotype, Edge, Genotype


def random_ops(genotype: Genotype, rng: np.random.Generator) -> Genotype:
    """``genotype`` with every edge's op drawn uniformly from the space's non-zero ops."""
    ops = [op for op in genotype.space.ops if op != "zero"]

    def redraw(cell: CellGenotype) -> CellGenotype:
        edges = tuple(Edge(e.src, e.dst, ops[int(rng.integers(len(ops)))]) for e in cell.edges)
        return CellGenotype(cell.n_nodes, edges)

    return Genotype(genotype.space, genotype.task, genotype.input_shape, genotype.output_dim,
                    redraw(genotype.normal),
                    None if genotype.reduce is None else redraw(genotype.reduce))


def scored(run_dir: Path) -> str:
    """The retrained network's weights and test accuracy, from its eval.json."""
    report = json.loads((run_dir / "eval.json").read_text())
    return f"{report['params']:,} weights, test accuracy {report['test_accuracy']:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished, retrained run directories")
    parser.add_argument("--draws", type=int, default=1, help="random genotypes per run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        own = Genotype.load(run / "genotype.json")
        rng = np.random.default_rng(zlib.crc32(run.name.encode()))
        for k in range(args.draws):
            target = args.out / f"{run.name}-random{k}"
            target.mkdir(exist_ok=True)
            shutil.copy(run / "config.toml", target / "config.toml")
            drawn = random_ops(own, rng)
            drawn.save(target / "genotype.json")
            subprocess.run([sys.executable, "-m", "mdlnas", "train", str(target)], check=True,
                           stdout=subprocess.DEVNULL)
            print(f"{target.name}: {scored(target)}", flush=True)
        print(f"{run.name} (the search's): {scored(run)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
