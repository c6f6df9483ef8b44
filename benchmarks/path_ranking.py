"""What a sampled-path supernet tells paths apart by: noise or architecture, and whose side.

Loads a finished search's checkpoint (``--relaxation gumbel`` or ``reinforce``) and runs
fixed paths through its shared weights exactly as the search's training passes do (batch
statistics, the weights' noise), on the run's own rows:

1. **Noise against architecture.** ``--paths`` uniformly drawn paths, each on one training
   batch under ``--noises`` draws of the weights' noise: the variance of the NLL between
   paths (of each path's mean over the noise) beside the variance within a path (the noise
   alone). The score-function estimate compares paths; noise within a path only adds to
   its variance.
2. **Ranking.** The NLL and accuracy on all validation rows, one noise draw, of 100 random
   paths, of the search's own most probable path and of each genotype given (e.g. the
   softmax mixture's networks on the same data), with each one's rank among the random ones
   (0: better than all of them); for a genotype also its description length per training
   row in these weights and the free energy a row, ``NLL + λ·DL/m``, by which the search
   weighs it.

    python benchmarks/path_ranking.py RUN_DIR [GENOTYPE.json ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from mdlnas.data.catalog import load
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.objectives import mean_nll
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import Genotype
from mdlnas.space.relaxation import SampledPaths
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise
from mdlnas.workflow.jobs import resolve_space
from mdlnas.workflow.run_dir import load_run_config

Path_ = dict[str, list[int]]  # op index of every edge, per cell type


@contextmanager
def fixed_path(model: Supernet, path: Path_) -> Iterator[None]:
    """The supernet's training passes run ``path`` instead of drawing one (an instance
    attribute shadows the method; removed on exit)."""
    n_ops = len(model.space.ops)
    drawn = {kind: SampledPaths(torch.nn.functional.one_hot(torch.tensor(ops), n_ops).float(),
                                tuple(ops)) for kind, ops in path.items()}
    model.sampled_paths = lambda: drawn  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.sampled_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a search run directory with a checkpoint")
    parser.add_argument("genotypes", nargs="*", type=Path, help="genotype.json files to rank")
    parser.add_argument("--paths", type=int, default=24)
    parser.add_argument("--noises", type=int, default=8)
    args = parser.parse_args(argv)

    run = load_run_config(args.run)
    data = load(run.data)
    state = BilevelSearch(data, resolve_space(run, data), run.search)
    state.load_state_dict(load_checkpoint(checkpoint_path(args.run)))
    model = state.model.train()
    space = state.space
    ops, edges = list(space.ops), cell_edges(space.n_nodes)
    kinds = list(model.alphas())
    rng = np.random.default_rng(0)

    def random_path() -> Path_:
        return {kind: [int(rng.integers(len(ops))) for _ in edges] for kind in kinds}

    def nll_and_accuracy(path: Path_, x: torch.Tensor, y: torch.Tensor,
                         noise: int) -> tuple[float, float]:
        with fixed_path(model, path), torch.no_grad(), common_noise(noise):
            out = model(x)
            return (float(mean_nll(out, y, model.task, model.log_noise)),
                    float((out.argmax(1) == y).float().mean()))

    x, y = state.train_split.x[: state.batch_size], state.train_split.y[: state.batch_size]
    table = np.array([[nll_and_accuracy(path, x, y, 1000 + s)[0] for s in range(args.noises)]
                      for path in (random_path() for _ in range(args.paths))])
    between, within = table.mean(axis=1).var(ddof=1), table.var(axis=1, ddof=1).mean()
    print(f"{args.run}: NLL variance between {args.paths} paths {between:.4f}, within a path "
          f"over {args.noises} noise draws {within:.4f} (ratio {within / between:.3f})")

    xv, yv = state.val_split.x, state.val_split.y
    scores = np.array([nll_and_accuracy(random_path(), xv, yv, 7) for _ in range(100)])
    print(f"100 random paths on the validation rows: NLL median {np.median(scores[:, 0]):.3f}"
          f" (best {scores[:, 0].min():.3f}), accuracy median {np.median(scores[:, 1]):.3f}"
          f" (best {scores[:, 1].max():.3f})")
    zero = ops.index("zero")  # an edge the genotype leaves out is a zero edge of the path
    named: list[tuple[str, Path_, Genotype | None]] = [
        ("most probable path", {k: [int(i) for i in a.argmax(-1)]
                                for k, a in model.alphas().items()}, None)]
    for file in args.genotypes:
        given = Genotype.load(file)
        named.append((str(file), {kind: [zero if op is None else op for op in choices]
                                  for kind, choices in model.path(given).items()}, given))
    lam, m = run.search.lam, len(state.train_split)
    for name, path, genotype in named:
        nll, accuracy = nll_and_accuracy(path, xv, yv, 7)
        line = (f"  {name:40s} NLL {nll:.3f}  accuracy {accuracy:.3f}  "
                f"rank {int((scores[:, 0] < nll).sum())}/100")
        if genotype is not None:  # the free energy a row the search weighs the path by
            with torch.no_grad():
                dl = float(model.path_description_length(genotype))
            line += f"  DL/m {dl / m:.3f}  F {nll + lam * dl / m:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
