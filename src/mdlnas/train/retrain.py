"""Retraining a genotype from scratch and scoring it once on the held-out test part.

Under torchrun each rank trains on its shard of every batch and the gradients are averaged
over ranks, as in the search (:mod:`mdlnas.distributed`)."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mdlnas import distributed
from mdlnas.config import TrainConfig, batch_size_for
from mdlnas.data.bundle import DataBundle
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, SearchError
from mdlnas.search.batches import to_tensors
from mdlnas.search.evaluation import Scores, score
from mdlnas.search.objectives import free_energy, mean_nll
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights, nonzero_weights
from mdlnas.space.variational import noise_rows, optimizer_groups, total_kl
from mdlnas.train.cost import count_flops

LN2 = math.log(2.0)
TrainCallback = Callable[[dict[str, float]], None]


@dataclass
class TrainResult:
    model: DerivedNetwork
    history: list[dict[str, float]]
    train_seconds: float
    best_epoch: int


def _y_std(data: DataBundle) -> float:
    return data.scaling.y_std if data.scaling is not None else 1.0


def retrain(
    genotype: Genotype,
    data: DataBundle,
    config: TrainConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TrainResult:
    """Train the network of ``genotype`` from scratch on ``data.train``, minimising
    ``NLL + λ·KL/m``; the weights of the epoch with the best validation NLL are kept
    (the test part is not looked at)."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = DerivedNetwork(genotype, config.bayes).to(device)
    train, val = to_tensors(data.train, device), to_tensors(data.val, device)
    m = len(train)
    batch_size = batch_size_for(config.batch_size, m, largest=64)
    min_rows = distributed.min_batch_rows()
    if batch_size < min_rows:
        raise ConfigError(
            f"{distributed.world_size()} processes need batches of at least {min_rows} rows "
            f"(2 per process), but the retraining batch has {batch_size}; raise "
            "--train-batch-size (or --batch-size of `mdlnas train`) or use fewer processes"
        )
    optimizer = torch.optim.Adam(
        optimizer_groups(model, list(model.parameters()), config.lr, config.bayes.sigma_lr),
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = max(1, math.ceil(m / batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs * steps_per_epoch
    )
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for x, y in train.batches(batch_size, rng, min_rows):
            part = distributed.shard(len(x))  # this rank's rows (all of them for one process)
            with noise_rows(part.start, part.total):
                xs, ys = part.rows(x, y)
                nll = part.nll_weight * mean_nll(model(xs), ys, genotype.task, model.log_noise)
            energy = free_energy(nll, total_kl(model), config.lam, m)
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(energy.total)
            # averaged with the gradients, so a NaN on one shard stops every rank at once
            (loss,) = distributed.average_gradients(list(model.parameters()), [energy.total])
            if not math.isfinite(loss):
                raise SearchError(
                    f"the training loss became {loss} in epoch {epoch}; "
                    "lower the learning rate (--lr) or check the data's scaling"
                )
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            losses.append(loss)
        distributed.average_buffers(model)  # each rank's BatchNorm saw only its shards
        distributed.check_lockstep(epoch, list(model.parameters()))
        val_scores = score(model, val, genotype.task, _y_std(data))
        record = {
            "epoch": float(epoch),
            "train_loss": float(np.mean(losses)),
            "val_nll": val_scores.nll,
            "val_metric": val_scores.metric,
            "description_length_bits": float(model.description_length().detach()) / LN2,
            "lr": float(schedule.get_last_lr()[0]),
        }
        history.append(record)
        for callback in callbacks:
            callback(record)
        if best is None or val_scores.nll < best[0]:
            best = (val_scores.nll, epoch, copy.deepcopy(model.state_dict()))
    assert best is not None
    model.load_state_dict(best[2])
    return TrainResult(model, history, time.perf_counter() - start, best[1])


def evaluate(model: DerivedNetwork, data: DataBundle) -> dict[str, Any]:
    """The once-only test evaluation: metric, NLL, size and description length."""
    device = next(model.parameters()).device
    test = to_tensors(data.test, device)
    scores: Scores = score(model, test, model.task, _y_std(data))
    metric_key = "test_accuracy" if scores.metric_name == "accuracy" else "test_rmse"
    return {
        metric_key: scores.metric,
        "test_nll": scores.nll,
        "params": count_weights(model),
        "nonzero_params": nonzero_weights(model),
        "flops": count_flops(model, model.input_shape),
        "description_length_bits": float(model.description_length().detach()) / LN2,
    }
