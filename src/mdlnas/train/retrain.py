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
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, SearchError
from mdlnas.search.batches import to_tensors
from mdlnas.search.evaluation import Scores, score
from mdlnas.search.method import free_energy
from mdlnas.search.objectives import mean_nll
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights, nonzero_weights
from mdlnas.space.variational import noise_rows, optimizer_groups, total_kl
from mdlnas.train.augment import augment_batch, check_augment
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
    """Train the network of ``genotype`` (in the frame ``config.channels`` and
    ``config.layers`` give, if set) from scratch on ``data.train``, minimising
    ``NLL + λ·KL/m``; the weights of the epoch with the best validation NLL are kept
    (the test part is not looked at). With ``config.refit`` the training and validation
    rows train together for every epoch and the last epoch is kept."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    genotype = genotype.scaled(config.channels, config.layers)  # the search's unless set
    check_augment(config.augment, tuple(genotype.input_shape))
    # its own generator: the batches' order and the initialisation stay as without it
    changes = torch.Generator().manual_seed(config.seed)
    model = DerivedNetwork(genotype, config.bayes).to(device)
    val = to_tensors(data.val, device)
    train = to_tensors(refit_rows(data) if config.refit else data.train, device)
    m = len(train)
    batch_size = batch_size_for(config.batch_size, m, largest=64)
    min_rows = distributed.min_batch_rows()
    if batch_size < min_rows:
        raise ConfigError(
            f"{distributed.world_size()} processes need batches of at least {min_rows} rows "
            f"(2 per process), but the retraining batch has {batch_size}; raise "
            "--train-batch-size (or --batch-size of `mdlnas train`) or use fewer processes"
        )
    # AdamW: weight decay decoupled from the gradient's scale (with 0 it is Adam); never
    # on the widths ρ (see optimizer_groups)
    optimizer = torch.optim.AdamW(optimizer_groups(
        model, list(model.parameters()), config.lr, config.bayes.sigma_lr, config.weight_decay
    ), weight_decay=config.weight_decay)
    schedule = _schedule(optimizer, config,
                         steps=config.epochs * train.n_batches(batch_size, min_rows))
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    start = time.perf_counter()
    lam = config.lam if config.lam is not None else 1.0  # see TrainConfig.lam
    step_lr = config.lr
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for x, y in train.batches(batch_size, rng, min_rows):
            x = augment_batch(x, config.augment, changes)
            part = distributed.shard(len(x))  # this rank's rows (all of them for one process)
            with noise_rows(part.start, part.total):
                xs, ys = part.rows(x, y)
                nll = part.nll_weight * mean_nll(model(xs), ys, genotype.task, model.log_noise)
            energy = free_energy(nll, total_kl(model), lam, m)
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
            step_lr = float(optimizer.param_groups[0]["lr"])  # the rate this step used
            optimizer.step()
            schedule.step()
            losses.append(loss)
        distributed.average_buffers(model)  # each rank's BatchNorm saw only its shards
        distributed.check_lockstep(epoch, list(model.parameters()))
        # (with refit the validation rows are training rows: their score only shows progress)
        val_scores = score(model, val, genotype.task, _y_std(data))
        record = {
            "epoch": float(epoch),
            "train_loss": float(np.mean(losses)),
            "val_nll": val_scores.nll,
            "val_metric": val_scores.metric,
            "description_length_bits": float(model.description_length().detach()) / LN2,
            "lr": step_lr,  # of the epoch's last step
        }
        history.append(record)
        for callback in callbacks:
            callback(record)
        if config.refit or best is None or val_scores.nll < best[0]:
            best = (val_scores.nll, epoch, copy.deepcopy(model.state_dict()))
    assert best is not None
    model.load_state_dict(best[2])
    return TrainResult(model, history, time.perf_counter() - start, best[1])


def refit_rows(data: DataBundle) -> Split:
    """The training and validation rows as one split (the scaling stays the training
    part's, which is how new data will be scaled)."""
    train, val = data.train, data.val
    rows = (np.concatenate([train.rows, val.rows])
            if train.rows is not None and val.rows is not None else None)
    return Split(np.concatenate([train.x, val.x]), np.concatenate([train.y, val.y]), rows)


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig,
              steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning rate over all ``steps``: cosine from the set rates down to 0, or one
    cycle (up from a 25th of them in the first 30 % of the steps, then down to ~0)."""
    if config.schedule == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peaks, total_steps=steps, pct_start=0.3
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)


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
