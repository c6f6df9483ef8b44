"""NNI 3.0's DARTS (first order) on mdlnas's MLP search space; runs inside NNI's own venv.

Not imported by mdlnas: ``benchmarks/peer_nni.py`` writes the data split (already scaled,
as mdlnas sees it) to an ``.npz``, runs this file with the venv's Python, and reads back
``--out`` (JSON): the softmax of NNI's α per edge, wall seconds per epoch and in all. The
derived network is then built and retrained by mdlnas, exactly as mdlnas's own result.

The space is the one of ``mdlnas.space.presets.mlp_space`` written with NNI's
``LayerChoice``: stem ``Linear(features, C)``; a cell of ``n_nodes`` nodes where node ``j``
sums a mixed op over every earlier node; ops ``linear`` (ReLU, Linear C→C, non-affine
BatchNorm), ``linear_bottleneck`` (ReLU, Linear C→C/4, ReLU, Linear C/4→C, BatchNorm),
``identity`` and ``zero``; head ReLU then ``Linear(C, classes)``. Weights are He-initialised
as in mdlnas. The optimisers are those of mdlnas's DARTS mode: Adam for the weights
(``--w-lr``, no weight decay, gradient norm clipped at 5) and NNI's fixed architecture
optimiser, Adam(betas 0.5, 0.999, weight decay 1e-3), which is mdlnas's too.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from nni.nas.evaluator.pytorch import Classification, DataLoader
from nni.nas.experiment import NasExperiment
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from nni.nas.strategy import DARTS
from torch import Tensor, nn

OPS = ("linear", "linear_bottleneck", "identity", "zero")


def _linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.normal_(layer.weight, std=math.sqrt(2.0 / n_in))  # He init, as mdlnas
    nn.init.zeros_(layer.bias)
    return layer


class Zero(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mul(0.0)


def _candidates(c: int) -> OrderedDict[str, nn.Module]:
    narrow = max(1, c // 4)
    return OrderedDict(
        linear=nn.Sequential(nn.ReLU(), _linear(c, c), nn.BatchNorm1d(c, affine=False)),
        linear_bottleneck=nn.Sequential(
            nn.ReLU(), _linear(c, narrow), nn.ReLU(), _linear(narrow, c),
            nn.BatchNorm1d(c, affine=False),
        ),
        identity=nn.Identity(),
        zero=Zero(),
    )


class MlpSpace(ModelSpace):  # type: ignore[misc]
    def __init__(self, n_features: int, n_classes: int, channels: int, n_nodes: int) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.stem = _linear(n_features, channels)
        self.edges = nn.ModuleList()
        for dst in range(1, n_nodes + 1):
            for src in range(dst):
                self.edges.append(LayerChoice(_candidates(channels), label=f"edge_{src}_{dst}"))
        self.head = _linear(channels, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        nodes = [self.stem(x)]
        edge = 0
        for dst in range(1, self.n_nodes + 1):
            total = None
            for src in range(dst):
                term = self.edges[edge](nodes[src])
                total = term if total is None else total + term
                edge += 1
            nodes.append(total)
        return self.head(torch.relu(nodes[-1]))


class EpochTimer(pl.Callback):  # type: ignore[misc]
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def _loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool) -> Any:
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help=".npz with x_train, y_train, ...")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--w-lr", type=float, default=3e-3)
    p.add_argument("--alpha-lr", type=float, default=3e-2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    pl.seed_everything(args.seed)
    data = np.load(args.data)
    n_classes = int(data["n_classes"])
    space = MlpSpace(data["x_train"].shape[1], n_classes, args.channels, args.nodes)
    evaluator = Classification(
        learning_rate=args.w_lr, weight_decay=0.0, optimizer=torch.optim.Adam,
        train_dataloaders=_loader(data["x_train"], data["y_train"], args.batch_size, True),
        val_dataloaders=_loader(data["x_val"], data["y_val"], args.batch_size, True),
        max_epochs=args.epochs, num_classes=n_classes, accelerator="cpu", devices=1,
        enable_progress_bar=False, enable_model_summary=False, logger=False,
        enable_checkpointing=False, callbacks=[timer := EpochTimer()],
    )
    strategy = DARTS(arc_learning_rate=args.alpha_lr, gradient_clip_val=5.0)
    experiment = NasExperiment(space, evaluator, strategy)
    start = time.perf_counter()
    experiment.run()
    total = time.perf_counter() - start
    probs = strategy.oneshot_module.export_probs()
    gammas = [[float(probs[f"edge_{s}_{d}"][op]) for op in OPS]
              for d in range(1, args.nodes + 1) for s in range(d)]
    args.out.write_text(json.dumps({
        "ops": list(OPS), "gammas": gammas, "epoch_seconds": timer.seconds,
        "run_seconds": total, "torch_threads": torch.get_num_threads(),
        "nni_version": __import__("nni").__version__, "torch_version": torch.__version__,
    }, indent=1))


if __name__ == "__main__":
    main()
