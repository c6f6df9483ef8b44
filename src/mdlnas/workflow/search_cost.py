"""``mdlnas bench search-cost``: a search epoch against a training epoch of a found network.

The supernet, not the step, is what a search pays for (the step is near its floor: ``bench
step-cost``). This runs, on real rows of the space's built-in dataset, a few search epochs
of each relaxation (the softmax mixture, the mixture of partial channels, sampled paths
with straight-through and with score-function gradients)
at first order and exact second order, with α moving from the first epoch (no
calibration), and a few training epochs of a network of the size plain DARTS derives, on
the same training rows with the product's retraining settings. It reports the median
seconds per epoch of each and each search epoch as a multiple of the training epoch. The
first epoch of each is not counted by default (it allocates and picks kernels; ``warmup``).

The DARTS-sized network: every node of both cells keeps two incoming edges (node 1 has
one), each with the space's first parametric op, the shape of cell DARTS's derivation
returns (its top two edges per node).
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from mdlnas.config import BayesConfig, Relaxation, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data.bundle import DataBundle
from mdlnas.data.catalog import load
from mdlnas.data.config import DataConfig
from mdlnas.errors import ConfigError
from mdlnas.search.darts import BilevelSearch
from mdlnas.space.cell import cell_edges
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.space.ops import OPS
from mdlnas.space.presets import SpaceOverrides, make_space
from mdlnas.train.retrain import retrain

DATA_FOR_SPACE = {"mlp": "digits", "conv1d": "mnist1d", "conv2d": "fashion-mnist"}
ORDERS = {"first_order": 0.0, "second_order_exact": 0.01}  # ξ: any positive value works
RELAXATIONS: tuple[Relaxation, ...] = ("softmax", "gumbel", "reinforce")


@dataclass(frozen=True)
class SearchCostConfig:
    space: str = "conv1d"
    data: str | None = None  # None: the space's built-in dataset (DATA_FOR_SPACE)
    n_train: int | None = None  # None: every training row
    epochs: int = 2  # timed epochs of each kind
    warmup: int = 1  # untimed epochs before them (the first allocates and picks kernels)
    lam: float = 1.0
    variational: bool = True
    seed: int = 0
    device: str = "auto"
    overrides: SpaceOverrides = field(default_factory=SpaceOverrides)  # of the preset
    partial_channels: int = 4  # K of the partial mixture (PC-DARTS's); 1 leaves it out

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"epochs must be a positive integer, got {self.epochs!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"warmup must be a non-negative integer, got {self.warmup!r}")
        if (isinstance(self.partial_channels, bool) or not isinstance(self.partial_channels, int)
                or self.partial_channels < 1):
            raise ConfigError("partial_channels must be a positive integer, got "
                              f"{self.partial_channels!r}")
        if self.data is None and self.space not in DATA_FOR_SPACE:
            raise ConfigError(f"space {self.space!r} has no built-in dataset; name one with "
                              "--data")


def darts_sized_genotype(space: SpaceConfig, data: DataBundle) -> Genotype:
    """Two incoming edges per node (the last two sources), each the first parametric op."""
    op = next((name for name in space.ops if OPS.get(name).parametric), None)
    if op is None:
        raise ConfigError(f"space {space.name!r} has no parametric op to build a network of")
    chosen = [(s, d) for s, d in cell_edges(space.n_nodes) if s >= d - 2]
    cell = CellGenotype(space.n_nodes, tuple(Edge(s, d, op) for s, d in chosen))
    reduce = cell if space.reduction_layers else None
    return Genotype(space, data.task, data.input_shape, data.output_dim, cell, reduce)


def _search_epochs(data: DataBundle, space: SpaceConfig, config: SearchCostConfig,
                   relaxation: Relaxation, partial: int, xi: float) -> list[float]:
    search = BilevelSearch(data, space, SearchConfig(
        lam=config.lam, xi=xi, relaxation=relaxation, partial_channels=partial,
        calibration_epochs=0, tol=0.0,
        max_epochs=config.warmup + config.epochs, seed=config.seed, device=config.device,
        bayes=BayesConfig(variational=config.variational),
    ))
    return [search.run_epoch().seconds
            for _ in range(config.warmup + config.epochs)][config.warmup :]


def _train_epochs(genotype: Genotype, data: DataBundle, config: SearchCostConfig) -> list[float]:
    ends: list[float] = []
    start = time.perf_counter()
    retrain(genotype, data, TrainConfig(
        epochs=config.warmup + config.epochs, refit=False, seed=config.seed, device=config.device,
        lam=config.lam, bayes=BayesConfig(variational=config.variational),
    ), callbacks=[lambda _: ends.append(time.perf_counter())])
    marks = [start, *ends]
    return [b - a for a, b in itertools.pairwise(marks)][config.warmup :]


def search_cost(config: SearchCostConfig) -> dict[str, Any]:
    """Measure; returns the report (seconds per epoch, medians, and ratios)."""
    name = config.data or DATA_FOR_SPACE[config.space]
    data = load(DataConfig(name=name, n_train=config.n_train, seed=config.seed))
    space = make_space(config.space, config.overrides)
    genotype = darts_sized_genotype(space, data)
    report: dict[str, Any] = {
        "space": config.space, "data": name, "train_rows": len(data.train.x),
        "val_rows": len(data.val.x), "variational": config.variational, "lam": config.lam,
        "timed_epochs": config.epochs, "channels": space.channels,
        "growth": space.channel_growth, "stem_stride": space.stem_stride,
    }
    train = statistics.median(_train_epochs(genotype, data, config))
    network = DerivedNetwork(genotype, BayesConfig(variational=config.variational))
    report["network"] = {"weights": count_weights(network),
                         "genotype": genotype.to_dict()["cells"]}
    report["train_epoch_s"] = train
    report["search_epoch_s"], report["ratio"] = {}, {}
    variants: list[tuple[str, Relaxation, int]] = [("softmax", "softmax", 1)]
    if config.partial_channels > 1:
        variants.append((f"softmax_partial{config.partial_channels}", "softmax",
                         config.partial_channels))
    variants += [(r, r, 1) for r in RELAXATIONS if r != "softmax"]
    for name, relaxation, partial in variants:
        for order, xi in ORDERS.items():
            key = f"{name}_{order}"
            seconds = statistics.median(_search_epochs(data, space, config, relaxation,
                                                       partial, xi))
            report["search_epoch_s"][key] = seconds
            report["ratio"][key] = seconds / train
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"search cost on {report['data']} ({report['train_rows']} training rows, "
        f"{report['val_rows']} validation rows), space {report['space']} "
        f"({report['channels']} channels, growth {report['growth']}, stem stride "
        f"{report['stem_stride']}), "
        + ("variational" if report["variational"] else "point weights")
        + f", λ = {report['lam']:g}; medians of {report['timed_epochs']} epochs",
        f"  training epoch of a DARTS-sized network ({report['network']['weights']:,} "
        f"weights): {report['train_epoch_s']:.2f} s",
        f"  {'search epoch':<32}{'seconds':>10}{'× training':>12}",
    ]
    for key, seconds in report["search_epoch_s"].items():
        lines.append(f"  {key.replace('_', ' '):<32}{seconds:>10.2f}{report['ratio'][key]:>12.2f}")
    return "\n".join(lines)
