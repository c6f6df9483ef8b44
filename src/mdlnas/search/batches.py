"""Mini-batches drawn reproducibly from a data split, as tensors on the chosen device."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mdlnas.data.bundle import Split


@dataclass(frozen=True)
class TensorSplit:
    x: Tensor  # (n, *input_shape)
    y: Tensor  # (n,)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batches(
        self, batch_size: int, rng: np.random.Generator, min_rows: int = 2
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of shuffled batches; the last, smaller batch is kept unless it would
        hold fewer than ``min_rows`` examples (BatchNorm cannot normalise one example; with
        data parallelism every rank's shard needs 2)."""
        order = torch.from_numpy(rng.permutation(len(self))).to(self.x.device)
        for start in range(0, len(self), batch_size):
            index = order[start : start + batch_size]
            if len(index) < min_rows and start > 0:
                break
            yield self.x[index], self.y[index]

    def n_batches(self, batch_size: int, min_rows: int = 2) -> int:
        """How many batches :meth:`batches` yields in one epoch."""
        full, rest = divmod(len(self), batch_size)
        return max(1, full + (1 if rest >= min_rows else 0))


def to_tensors(split: Split, device: torch.device) -> TensorSplit:
    return TensorSplit(
        torch.as_tensor(split.x, dtype=torch.float32, device=device),
        torch.as_tensor(split.y, device=device),
    )


def cycle(
    split: TensorSplit, batch_size: int, rng: np.random.Generator, min_rows: int = 2
) -> Iterator[tuple[Tensor, Tensor]]:
    """Endless batches, reshuffled at every pass (the validation side of the bilevel loop)."""
    while True:
        yield from split.batches(batch_size, rng, min_rows)
