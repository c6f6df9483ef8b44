"""Training speed of a derived network against a hand-written PyTorch CNN (issue 18).

The derived network is the DARTS-sized network of ``mdlnas bench search-cost`` (two edges
per node, the space's first parametric op), trained by the product's own loop
(:func:`mdlnas.train.retrain.retrain`: AdamW, one-cycle, BatchNorm, a validation score
every epoch). The hand CNN is what a person writes in PyTorch for the same budget: a chain
of ``k×k`` convolution, BatchNorm, ReLU, as deep as the derived network's longest chain of
convolutions, stride 2 where the derived network halves the resolution, global average
pooling and a linear head, its width chosen so that its weights are closest to the derived
network's; trained by a plain loop of the same optimiser, schedule, batch size and epochs,
scored on the validation rows every epoch as the product does. Both on the same rows,
taking turns epoch by epoch (a load that comes and goes hits both alike); the report is
the median images per second of each and their ratio.

    python benchmarks/derived_speed.py --space conv2d --n-train 5000 --epochs 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch
from torch import nn

from mdlnas.config import BayesConfig, TrainConfig, batch_size_for
from mdlnas.data.catalog import load
from mdlnas.data.config import DataConfig
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.space.presets import SpaceOverrides, make_space
from mdlnas.space.variational import VariationalConv
from mdlnas.train.retrain import retrain
from mdlnas.workflow.search_cost import DATA_FOR_SPACE, darts_sized_genotype


def conv_depth_of_cell(cell: nn.Module) -> int:
    """Convolutions on the longest chain through a derived cell."""
    node_depth = {0: 0}
    for edge, op in zip(cell.edges, cell.ops, strict=True):  # type: ignore[arg-type]
        convs = sum(isinstance(m, VariationalConv) for m in op.modules())
        node_depth[edge.dst] = max(node_depth.get(edge.dst, 0), node_depth[edge.src] + convs)
    return node_depth[cell.n_nodes]  # type: ignore[index]


def conv_depth(network: DerivedNetwork) -> int:
    """Convolutions on the longest chain from input to head (stem, transitions, cells)."""
    depth = 1  # the stem
    for transition, cell in zip(network.transitions, network.cells, strict=True):
        depth += sum(isinstance(m, VariationalConv) for m in transition.modules())
        depth += conv_depth_of_cell(cell)
    return depth


class HandCNN(nn.Module):
    """Conv-BN-ReLU ``depth`` times at one width, stride 2 at ``strided``, GAP, linear."""

    def __init__(self, dim: int, in_channels: int, width: int, depth: int,
                 strided: set[int], classes: int, kernel: int = 3) -> None:
        super().__init__()
        conv = nn.Conv2d if dim == 2 else nn.Conv1d
        norm = nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [conv(in_channels if i == 0 else width, width, kernel,
                            stride=2 if i in strided else 1, padding=kernel // 2, bias=False),
                       norm(width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(2).mean(-1))


def matched_hand_cnn(dim: int, in_channels: int, weights: int, depth: int,
                     strided: set[int], classes: int) -> HandCNN:
    best = min(range(1, 257), key=lambda w: abs(count_weights(
        HandCNN(dim, in_channels, w, depth, strided, classes)) - weights))
    return HandCNN(dim, in_channels, best, depth, strided, classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="conv2d", choices=["conv1d", "conv2d"])
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one untimed")
    parser.add_argument("--channels", type=int, help="the preset's width unless given")
    parser.add_argument("--stem-stride", type=int, help="the preset's unless given")
    parser.add_argument("--variational", action="store_true",
                        help="the derived network with variational weights (the product's "
                        "default retraining) instead of point weights")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load(DataConfig(name=DATA_FOR_SPACE[args.space], n_train=args.n_train))
    space = make_space(args.space, SpaceOverrides(channels=args.channels,
                                                  stem_stride=args.stem_stride))
    genotype = darts_sized_genotype(space, data)
    bayes = BayesConfig(variational=args.variational)
    network = DerivedNetwork(genotype, bayes)
    weights, depth = count_weights(network), conv_depth(network)
    # where the derived network halves: its stem (stride), and each reduction cell's start
    strided = {0} if space.stem_stride == 2 else set()
    position = 1
    for transition, cell, (_, reduction) in zip(network.transitions, network.cells,
                                                network.plan, strict=True):
        position += sum(isinstance(m, VariationalConv) for m in transition.modules())
        if reduction:
            strided.add(position)
        position += conv_depth_of_cell(cell)
    hand = matched_hand_cnn(space.dim, data.input_shape[0], weights, depth, strided,
                            data.output_dim)
    config = TrainConfig(epochs=args.epochs + 1, refit=False,
                         lam=1.0 if args.variational else 0.0, bayes=bayes)
    batch = batch_size_for(config.batch_size, len(data.train.x), largest=64)

    x_train = torch.as_tensor(data.train.x)
    y_train = torch.as_tensor(data.train.y)
    x_val = torch.as_tensor(data.val.x)
    y_val = torch.as_tensor(data.val.y)
    optimizer = torch.optim.AdamW(hand.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps = (len(x_train) + batch - 1) // batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                   total_steps=steps * config.epochs)

    def hand_epoch() -> float:
        start = time.perf_counter()
        hand.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(x_train), batch):
            rows = order[i : i + batch]
            loss = nn.functional.cross_entropy(hand(x_train[rows]), y_train[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        hand.eval()
        with torch.no_grad():
            float((hand(x_val).argmax(-1) == y_val).float().mean())
        return time.perf_counter() - start

    # The product's loop calls back after every epoch; the hand CNN's epoch runs inside
    # the callback, so the two take turns and each derived epoch is the time between
    # the end of one callback and the next.
    derived_s, hand_s = [], []
    mark = [time.perf_counter()]

    def take_turn(_: dict[str, float]) -> None:
        derived_s.append(time.perf_counter() - mark[0])
        hand_s.append(hand_epoch())
        mark[0] = time.perf_counter()

    retrain(genotype, data, config, callbacks=[take_turn])
    derived_s, hand_s = derived_s[1:], hand_s[1:]  # the first allocates and picks kernels
    rows = len(x_train)
    report: dict[str, Any] = {
        "space": args.space, "train_rows": rows, "variational": args.variational,
        "threads": args.threads, "batch_size": batch,
        "derived": {"weights": weights, "conv_depth": depth,
                    "images_per_s": rows / statistics.median(derived_s)},
        "hand": {"weights": count_weights(hand), "conv_depth": depth,
                 "width": hand.head.in_features,
                 "images_per_s": rows / statistics.median(hand_s)},
    }
    report["hand_over_derived"] = (report["hand"]["images_per_s"]
                                   / report["derived"]["images_per_s"])
    print(json.dumps(report))


if __name__ == "__main__":
    main()
