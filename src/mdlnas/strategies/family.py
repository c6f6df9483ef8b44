"""The complexity family of one search (``--lam-range``), and the budget's pick from it.

This module reads the family off a finished search and picks from it; its files
(``front.csv``, ``genotypes/``) are :mod:`mdlnas.workflow.family`'s.

A family search trains α as a function of log λ (:func:`mdlnas.space.supernet.interpolate`)
over shared weights. Afterwards the architecture is read off at ``lam_points`` values of λ,
log-evenly over the range. Each reading is a row of ``front.csv``:

    lam, genotype (file under genotypes/), weights, macs, dl_bits, val_metric

``val_metric`` is the supernet's on the validation part with that λ's α: the family is
judged on validation and the test part is scored once per retrained network. Distinct
architectures share one genotype file. The budget (``max_weights``, ``max_macs``) picks
the row of best validation metric among those within it; without one, the best row.
``--retrain K`` retrains the Pareto front on validation (weights against validation error),
at most K networks, each at its own λ, and adds the test scores to the rows.

With a budget and ``budget_fill`` every network is rebuilt in the widest frame (its
``channels``) whose network fits the budget, and judged by its trial and retrained at that
width: the family's cells are its architectures, the width is the budget's. Without
trials the supernet's metric (of the searched width) picks among the networks as searched,
and the pick alone is widened. Fitted rows carry ``fitted_channels``, ``fitted_weights``
and ``fitted_macs``. ``--retrain K`` retrains the front as searched, at the search's width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, Task, TrainConfig
from mdlnas.data import DataBundle
from mdlnas.errors import ConfigError
from mdlnas.search.darts import LN2, MIDDLE, BilevelSearch, lam_at
from mdlnas.search.evaluation import Scores, pareto_front
from mdlnas.search.method import derive_genotype
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.train.cost import count_flops
from mdlnas.train.retrain import retrain


@dataclass(frozen=True)
class Size:
    """What a network costs: weights (posterior means) and multiply-accumulates per example."""

    weights: int
    macs: int


def size_of(genotype: Genotype, bayes: BayesConfig) -> Size:
    network = DerivedNetwork(genotype, bayes)
    return Size(count_weights(network), count_flops(network, genotype.input_shape))


def smallest_size(space: SpaceConfig, task: Task, input_shape: tuple[int, ...],
                  output_dim: int, config: SearchConfig) -> Size:
    return size_of(smallest_genotype(space, task, input_shape, output_dim, config),
                   config.bayes)


def smallest_genotype(space: SpaceConfig, task: Task, input_shape: tuple[int, ...],
                      output_dim: int, config: SearchConfig) -> Genotype:
    """The smallest network the search's derivation can give in the space: every edge
    dropped (``zero``) where the rule lets it, and on the edges it must keep (the output's,
    or the top-k of the darts rule) the op whose network is smallest, a parameter-free one
    where the space has it. In a space with a direct path this is the linear model."""
    zero = space.ops.index("zero") if "zero" in space.ops else None

    def kept_on_every_edge(op: int) -> Genotype:
        gammas = np.zeros((space.n_edges, len(space.ops)))
        gammas[:, op] = 0.1 if zero is not None else 1.0
        if zero is not None:
            gammas[:, zero] = 0.9
        cells = {"normal": gammas, **({"reduce": gammas} if space.reduction_layers else {})}
        return derive_genotype(cells, space, task, input_shape, output_dim,
                               rule=config.derive, top_k=config.darts_top_k)

    candidates = [kept_on_every_edge(op) for op in range(len(space.ops)) if op != zero]
    return min(candidates, key=lambda g: count_weights(DerivedNetwork(g, config.bayes)))


def check_budget(config: SearchConfig, smallest: Size, space_name: str) -> None:
    """Refuse, before any work, a budget that no network of the space can meet."""
    if config.max_weights is not None and config.max_weights < smallest.weights:
        raise ConfigError(
            f"--max-weights {config.max_weights} is below the smallest network of space "
            f"{space_name}, {smallest.weights:,} weights; give at least that"
        )
    if config.max_macs is not None and config.max_macs < smallest.macs:
        raise ConfigError(
            f"--max-macs {config.max_macs} is below the smallest network of space "
            f"{space_name}, {smallest.macs:,} multiply-accumulates; give at least that"
        )


def check_budget_fill(search: SearchConfig, train: TrainConfig) -> None:
    """Refuse, before any work, a retraining width or depth that would undo the fill."""
    budget = search.max_weights is not None or search.max_macs is not None
    if budget and search.budget_fill and (train.channels or train.layers):
        raise ConfigError(
            "--budget-fill sets the retraining's width to fill the budget; drop "
            "--train-channels / --train-layers, or give --no-budget-fill"
        )


def read_family(state: BilevelSearch) -> tuple[list[dict[str, Any]], dict[str, Genotype]]:
    """The family's rows by increasing λ, and its distinct genotypes by file name."""
    cfg = state.config
    assert state.family is not None
    points = cfg.lam_points if state.family[0] < state.family[1] else 1
    # one point: the middle of the range, where the search's epochs were judged
    positions = np.linspace(0.0, 1.0, points) if points > 1 else np.full(1, MIDDLE)
    rows: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # genotype JSON -> file name
    genotypes: dict[str, Genotype] = {}
    sizes: dict[str, dict[str, Any]] = {}  # by file name: a network's size
    for position in positions:
        genotype = state.genotype(float(position))
        key = genotype.to_json()
        if key not in names:
            name = names[key] = f"{len(names):02d}.json"
            genotypes[name] = genotype
            size = size_of(genotype, cfg.bayes)
            sizes[name] = {"weights": size.weights, "macs": size.macs}
        # the path's weights in full (no γ); at this λ's widths when they follow the family
        with torch.no_grad(), state.at(float(position)):
            dl = float(state.model.path_description_length(genotype)) / LN2
        rows.append({
            "lam": lam_at(float(position), state.family),
            "genotype": names[key],
            **sizes[names[key]],
            "dl_bits": dl,
            **_scores(state.validate_at(float(position))),
        })
    return rows, genotypes


def _scores(scores: Scores) -> dict[str, Any]:
    return {"val_metric": scores.metric, "metric": scores.metric_name, "chosen": False}


@dataclass(frozen=True)
class FamilyChoice:
    """A family read off a finished search, and the network the budget picked from it."""

    rows: list[dict[str, Any]]
    genotypes: dict[str, Genotype]  # the distinct ones, by file name
    genotype: Genotype
    lam: float  # the chosen network's λ (its retraining's)
    note: str  # one line on what was chosen and why


RowKey = tuple[float, str]  # a front row: its λ (rounded) and its genotype file
TRIAL_COLUMN = "trial_val_metric"  # a row's network's trial training, on validation
FITTED_COLUMNS = ("fitted_channels", "fitted_weights", "fitted_macs")  # at the budget
WIDEST = 4  # a network is widened to fill a budget at most this many times its width


def row_key(row: Mapping[str, Any]) -> RowKey:
    """What identifies a row of the family read again off the same search."""
    return round(float(row["lam"]), 9), str(row["genotype"])


def pick(state: BilevelSearch, space: SpaceConfig,
         retraining: Callable[[float], TrainConfig] | None = None,
         report: Callable[[str], None] = lambda _: None,
         tried: Mapping[RowKey, float] | None = None) -> FamilyChoice:
    """Read the family off ``state`` and pick its network: the best on validation within
    the budget; if no network of the family fits, the space's smallest (the budget was
    checked against it before the search: it fits). With a budget, ``trial_epochs`` and
    ``retraining`` (the retraining's settings at a λ), each distinct network within the
    budget is judged by a trial training (:func:`trial_metric`) instead of by the
    supernet's validation metric; ``tried``: trials measured before (a resumed run's, by
    :func:`row_key`), not repeated. With ``budget_fill`` the networks are tried, or the
    pick is retrained, at the width that fills the budget (:func:`fitted`). Under torchrun
    every rank runs the same trials."""
    cfg, data = state.config, state.data
    assert state.family is not None
    rows, genotypes = read_family(state)
    budget = cfg.max_weights is not None or cfg.max_macs is not None
    trials = retraining is not None and budget and cfg.trial_epochs > 0
    networks = dict(genotypes)  # what each genotype file is judged and retrained as
    if trials and cfg.budget_fill:  # each network tried at the budget's width
        networks = fill_budget(rows, genotypes, cfg)
    if trials:
        assert retraining is not None
        measured = tried or {}
        for i in trial_rows(rows, cfg, data.task):
            row = rows[i]
            known = measured.get(row_key(row))
            if known is not None:
                row[TRIAL_COLUMN] = known
                continue
            config = replace(retraining(row["lam"]), epochs=cfg.trial_epochs, refit=False)
            row[TRIAL_COLUMN] = trial_metric(networks[row["genotype"]], data, config)
            report(f"family: trial of the network of λ = {row['lam']:.3g} ({size_text(row)}), "
                   f"{cfg.trial_epochs} epochs: validation {row[TRIAL_COLUMN]:.4f}")
    chosen = choose(rows, cfg, data.task)
    if chosen is None:
        genotype = smallest_genotype(space, data.task, data.input_shape, data.output_dim, cfg)
        return FamilyChoice(rows, genotypes, genotype, state.family[1], (
            f"no network of the family fits the budget ({budget_text(cfg)}); the space's "
            "smallest network is taken (a higher top of --lam-range searches nearer the "
            "budget)"))
    rows[chosen]["chosen"] = True
    row = rows[chosen]
    if budget and cfg.budget_fill and not trials:
        # no trial judged the networks at the budget's width: the pick among them as
        # searched (the supernet's metric is of that width), then widened to fill it
        networks = fill_budget(rows, {row["genotype"]: genotypes[row["genotype"]]}, cfg)
    return FamilyChoice(rows, genotypes, networks[row["genotype"]], row["lam"], (
        f"{size_text(row)} chosen at λ = {row['lam']:.3g} ({budget_text(cfg)})"))


def fitted(genotype: Genotype, config: SearchConfig) -> tuple[Genotype, Size] | None:
    """``genotype`` in the widest frame (up to :data:`WIDEST` times its own width) whose
    network is within the budget of ``config``, with that network's size; None if not even
    one channel is. A width that adds no weight (a network of no width-dependent op: the
    linear model) is not taken: of equal sizes, the width nearest its own."""
    own = genotype.space.channels
    best: tuple[int, int, Genotype, Size] | None = None  # weights, -distance to own width
    for channels in range(1, WIDEST * own + 1):
        candidate = genotype.scaled(channels=channels)
        size = size_of(candidate, config.bayes)
        if not fits({"weights": size.weights, "macs": size.macs}, config):
            break  # sizes grow with the width
        key = (size.weights, -abs(channels - own))
        if best is None or key > best[:2]:
            best = (*key, candidate, size)
    return best[2:] if best is not None else None


def fill_budget(rows: Sequence[dict[str, Any]], genotypes: Mapping[str, Genotype],
                config: SearchConfig) -> dict[str, Genotype]:
    """Each genotype file's network fitted to the budget (:func:`fitted`; its own where
    none fits, and then it stays over the budget), and its rows told the fitted width and
    size (:data:`FITTED_COLUMNS`), by which :func:`fits` then judges them."""
    networks = dict(genotypes)
    sizes: dict[str, dict[str, int]] = {}
    for name, genotype in genotypes.items():
        fit = fitted(genotype, config)
        if fit is not None:
            networks[name], size = fit
            sizes[name] = {"fitted_channels": networks[name].space.channels,
                           "fitted_weights": size.weights, "fitted_macs": size.macs}
    for row in rows:
        row.update(sizes.get(row["genotype"], {}))
    return networks


def size_text(row: Mapping[str, Any]) -> str:
    """A row's network's size, at the budget's width if it was fitted to one."""
    if row.get("fitted_channels") is None:
        return f"{row['weights']:,} weights"
    return f"{row['fitted_weights']:,} weights at {row['fitted_channels']} channels"


def budget_text(cfg: SearchConfig) -> str:
    limits = [f"≤ {n:,} {unit}" for n, unit in ((cfg.max_weights, "weights"),
                                               (cfg.max_macs, "MACs")) if n is not None]
    return ("best on validation with " + " and ".join(limits)) if limits else (
        "best on validation")


def trial_metric(genotype: Genotype, data: DataBundle, config: TrainConfig) -> float:
    """A network's trial: trained by ``config`` (the training rows only), its validation
    metric at its epoch of best validation NLL."""
    result = retrain(genotype, data, config)
    return float(result.history[result.best_epoch - 1]["val_metric"])


def trial_rows(rows: Sequence[dict[str, Any]], config: SearchConfig, task: Task) -> list[int]:
    """One row per distinct network within the budget, to be tried: of each network's rows,
    the best on the supernet's validation metric (its λ is the one the network is tried and
    retrained at)."""
    return _best_row_per_network(rows, task, [i for i, row in enumerate(rows)
                                              if fits(row, config)])


def _best_row_per_network(rows: Sequence[dict[str, Any]], task: Task,
                          indices: Sequence[int]) -> list[int]:
    """Of the rows ``indices``, each distinct genotype's best on the supernet's validation
    metric (the first of equals), in row order."""
    best: dict[str, int] = {}
    for i in indices:
        j = best.get(rows[i]["genotype"])
        if j is None or _supernet_error(rows[i], task) < _supernet_error(rows[j], task):
            best[rows[i]["genotype"]] = i
    return sorted(best.values())


def error(row: dict[str, Any], task: Task) -> float:
    """The row's validation error, smaller is better (1 − accuracy, or RMSE): of its
    network's trial training where it was tried, else of the supernet at its λ."""
    trial = row.get(TRIAL_COLUMN)
    if trial is None:
        return _supernet_error(row, task)
    value = float(trial)
    if not math.isfinite(value):  # a trial that diverged
        return math.inf
    return _as_error(value, task)


def _supernet_error(row: dict[str, Any], task: Task) -> float:
    return _as_error(float(row["val_metric"]), task)


def _as_error(metric: float, task: Task) -> float:
    return 1.0 - metric if task == "classification" else metric


def fits(row: Mapping[str, Any], config: SearchConfig) -> bool:
    """Whether the row's network is within the budget of ``config`` (any, without one),
    at the width the budget fitted it to if it was (:func:`fill_budget`)."""
    weights = row.get("fitted_weights", row["weights"])
    macs = row.get("fitted_macs", row["macs"])
    return ((config.max_weights is None or weights <= config.max_weights)
            and (config.max_macs is None or macs <= config.max_macs))


def choose(rows: Sequence[dict[str, Any]], config: SearchConfig, task: Task) -> int | None:
    """Index of the row the budget picks: the best validation metric among the rows within
    ``max_weights`` and ``max_macs`` (all rows without a budget; only the tried ones where
    networks were tried, see :func:`pick`); of equals, the smallest. None if no row fits."""
    within = [i for i, row in enumerate(rows) if fits(row, config)]
    tried = [i for i in within if rows[i].get(TRIAL_COLUMN) is not None]
    within = tried or within  # once networks were tried, the choice is among them
    if not within:
        return None
    return min(within, key=lambda i: (error(rows[i], task),
                                      rows[i].get("fitted_weights", rows[i]["weights"]), i))


def front_to_retrain(rows: Sequence[dict[str, Any]], k: int, task: Task) -> list[int]:
    """Indices of at most ``k`` rows of distinct genotypes to retrain: the Pareto front on
    the supernet's validation metric (weights against validation error; every row has it,
    unlike the budget's trials), evenly thinned if longer than ``k``, and if shorter, the
    best of the rest by validation error."""
    candidates = _best_row_per_network(rows, task, range(len(rows)))
    points = [(float(rows[i]["weights"]), _supernet_error(rows[i], task)) for i in candidates]
    front = [candidates[i] for i in pareto_front(points)]
    if k == 1:  # the front's most accurate network
        return front[-1:]
    if len(front) > k:
        picks = np.linspace(0, len(front) - 1, k).round().astype(int)
        return sorted(front[i] for i in set(picks.tolist()))
    rest = sorted((i for i in candidates if i not in front),
                  key=lambda i: _supernet_error(rows[i], task))
    return sorted(front + rest[: k - len(front)])
