"""TensorBoard logging of a search and of retraining (``--tensorboard``).

Optional: ``torch.utils.tensorboard`` needs the ``tensorboard`` package, which mdlnas does
not require. Without it, asking for TensorBoard is a clear error before any work is done.
Scalars go to ``RUN_DIR/tensorboard``: ``search/*`` per search epoch (losses, NLL,
description length, α entropy, λ, learning rates), ``gamma/CELL/SRC-DST/OP`` for every
mixing weight, and ``retrain/*`` per retraining epoch. View with
``tensorboard --logdir RUN_DIR/tensorboard``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdlnas.errors import MdlnasError
from mdlnas.report.run_files import metrics_rows
from mdlnas.search.darts import BilevelSearch, EpochRecord
from mdlnas.space.cell import cell_edges

TENSORBOARD_DIR = "tensorboard"


def _summary_writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is missing
        raise MdlnasError(
            "--tensorboard needs the tensorboard package: pip install tensorboard "
            "(or pip install 'mdlnas[tensorboard]'), or leave out --tensorboard"
        ) from None
    return SummaryWriter


class TensorBoardLogger:
    """Writes the event files of one run directory; a callback for the search
    (:meth:`search_epoch`) and for retraining (:meth:`train_epoch`)."""

    def __init__(self, run_dir: Path) -> None:
        self._writer_class = _summary_writer_class()  # fails here, before any training
        self.log_dir = run_dir / TENSORBOARD_DIR
        self._open: Any = None

    @property
    def _writer(self) -> Any:
        # Made at the first epoch: a search that fails before it leaves no folder behind.
        if self._open is None:
            self._open = self._writer_class(log_dir=str(self.log_dir))
        return self._open

    def _scalars(self, prefix: str, values: Mapping[str, Any], step: int) -> None:
        for key, value in values.items():
            if key != "epoch" and isinstance(value, int | float):
                self._writer.add_scalar(f"{prefix}/{key}", float(value), step)

    def search_epoch(self, record: EpochRecord, state: BilevelSearch) -> None:
        (row,) = metrics_rows([record.to_dict()], state.config)
        self._scalars("search", row, record.epoch)
        edges = cell_edges(state.space.n_nodes)
        for cell, gamma in state.gammas().items():
            for (src, dst), weights in zip(edges, gamma, strict=True):
                for op, value in zip(state.space.ops, weights, strict=True):
                    # "->" is not a valid tag character; TensorBoard would warn and rename
                    tag = f"gamma/{cell}/{src}-{dst}/{op}"
                    self._writer.add_scalar(tag, float(value), record.epoch)
        self._writer.flush()  # an interrupted run keeps what it logged

    def train_epoch(self, record: Mapping[str, float]) -> None:
        self._scalars("retrain", record, int(record["epoch"]))
        self._writer.flush()

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
