"""The per-epoch tables of a run directory: ``metrics.csv`` and ``alphas.csv``.

``metrics.csv`` has one row per search epoch: losses and NLL (nats per example), the
description length in bits, the entropy of the op distribution, the complexity weight λ of
the epoch and the learning rates. ``alphas.csv`` is long format, one row per
(epoch, cell, edge, op) with ``gamma = softmax(α)``; epoch 0 is the starting point.
Both are rewritten whole and atomically, so a reader never sees half a table.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mdlnas.config import SearchConfig
from mdlnas.errors import MdlnasError
from mdlnas.search.darts import lam_in_epoch
from mdlnas.space.cell import cell_edges

# The names of the files the report layer reads and writes in a run directory (the rest
# are named in mdlnas.workflow.run_dir, which owns the directory).
GENOTYPE_FILE = "genotype.json"
METRICS_FILE = "metrics.csv"
PLOTS_DIR = "plots"
TRAIN_HISTORY_FILE = "train_history.csv"
ALPHAS_FILE = "alphas.csv"
FRONT_FILE = "front.csv"  # a family search's networks, one row per λ read off
GENOTYPES_DIR = "genotypes"  # a family's distinct genotypes
ALPHA_COLUMNS = ("epoch", "cell", "edge", "op", "gamma")
DL_PREFIX = "dl_per_weight."

Row = dict[str, Any]


def metrics_rows(history: Iterable[Mapping[str, Any]], config: SearchConfig) -> list[Row]:
    """One metrics.csv row per epoch record. The learning rates come from the config:
    the search keeps them constant (no schedule), so they are the rates of every epoch.
    The description length per weight of each op becomes one column per op,
    ``dl_per_weight.CELL:OP`` (nats)."""
    sigma_lr = config.bayes.sigma_lr if config.bayes.sigma_lr is not None else config.w_lr
    rows = []
    for record in history:
        row: Row = {k: v for k, v in record.items() if k != "dl_per_weight"}
        for label, value in record.get("dl_per_weight", {}).items():
            row[f"{DL_PREFIX}{label}"] = value
        # a family's epochs are judged at the middle of its range
        family = config.family_range
        middle = math.sqrt(family[0] * family[1]) if family else None
        row["lam"] = lam_in_epoch(config, int(record["epoch"]), middle)
        row["w_lr"] = config.w_lr
        row["sigma_lr"] = sigma_lr if config.bayes.variational else math.nan
        row["alpha_lr"] = config.alpha_lr
        rows.append(row)
    return rows


def edge_label(src: int, dst: int) -> str:
    return f"{src}->{dst}"


def alpha_rows(
    epoch: int, gammas: Mapping[str, np.ndarray], ops: Sequence[str], n_nodes: int
) -> list[Row]:
    """Long-format rows of one epoch's mixing weights (``(n_edges, n_ops)`` per cell)."""
    edges = cell_edges(n_nodes)
    rows = []
    for cell, gamma in gammas.items():
        for (src, dst), weights in zip(edges, np.asarray(gamma), strict=True):
            for op, value in zip(ops, weights, strict=True):
                rows.append({"epoch": epoch, "cell": cell, "edge": edge_label(src, dst),
                             "op": op, "gamma": round(float(value), 6)})
    return rows


def write_rows(path: Path, rows: Sequence[Row], columns: Sequence[str] | None = None) -> None:
    if not rows:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns or rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def read_rows(path: Path) -> list[Row]:
    """The rows of a CSV table, numbers as floats (``epoch`` as int)."""
    if not path.is_file():
        raise MdlnasError(f"{path} does not exist; it is written by `mdlnas search`")
    with path.open(newline="") as f:
        return [_typed(row) for row in csv.DictReader(f)]


def _typed(row: Mapping[str, str]) -> Row:
    out: Row = {}
    for key, text in row.items():
        try:
            value: Any = float(text)
        except (TypeError, ValueError):
            value = text
        out[key] = int(value) if key == "epoch" and isinstance(value, float) else value
    return out


def read_alpha_rows(path: Path, up_to_epoch: int) -> list[Row]:
    """The alphas.csv rows of epochs ``0 .. up_to_epoch``; used when a search resumes, so
    that rows written after the last checkpoint (the search repeats those epochs) are
    dropped. A missing file gives no rows."""
    if not path.is_file():
        return []
    return [row for row in read_rows(path) if row["epoch"] <= up_to_epoch]
