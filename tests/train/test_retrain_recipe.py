"""The retraining recipe: the learning-rate schedules, decoupled weight decay, and refitting
on the training and validation rows once the architecture is chosen."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdlnas.config import BayesConfig, SpaceConfig, TrainConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.space.genotype import CellGenotype, Edge, Genotype
from mdlnas.train.retrain import _schedule, refit_rows, retrain

SPACE = SpaceConfig("mlp", 0, ("linear", "identity", "zero"), n_nodes=2, layers=1, channels=32)
GENOTYPE = Genotype(SPACE, "classification", (6,), 2,
                    CellGenotype(2, (Edge(0, 1, "linear"), Edge(1, 2, "linear"))))


def noise_labels(n: int = 96, seed: int = 0) -> DataBundle:
    """Random features with random labels: only rows trained on can be predicted."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (3 * n, 6)).astype(np.float32)
    y = rng.integers(0, 2, 3 * n).astype(np.int64)
    parts = [slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)]
    train, val, test = (Split(x[p], y[p], np.arange(3 * n)[p]) for p in parts)
    return DataBundle("noise", "classification", train, val, test, (6,), 2)


def _accuracy_on_val(model: torch.nn.Module, data: DataBundle) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(torch.as_tensor(data.val.x)).argmax(-1).numpy()
    return float((predicted == data.val.y).mean())


def test_refit_trains_on_the_validation_rows_too() -> None:
    data = noise_labels()
    settings = {"epochs": 60, "lr": 1e-2, "batch_size": 32, "device": "cpu",
                "bayes": BayesConfig(False)}
    refit = retrain(GENOTYPE, data, TrainConfig(refit=True, **settings))  # type: ignore[arg-type]
    held_out = retrain(GENOTYPE, data, TrainConfig(refit=False, **settings))  # type: ignore[arg-type]
    # labels are noise: the validation rows are learnt only when they are trained on
    assert _accuracy_on_val(refit.model, data) > 0.9
    assert _accuracy_on_val(held_out.model, data) < 0.75
    assert refit.best_epoch == 60  # the last epoch is kept: nothing is left to select on


def test_refit_rows_are_train_then_validation() -> None:
    data = noise_labels(10)
    rows = refit_rows(data)
    assert len(rows) == 20
    np.testing.assert_array_equal(rows.x, np.concatenate([data.train.x, data.val.x]))
    np.testing.assert_array_equal(rows.y, np.concatenate([data.train.y, data.val.y]))
    assert rows.rows is not None and list(rows.rows) == list(range(20))


def test_one_cycle_rises_to_the_set_rate_then_falls() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.AdamW(params, lr=0.01)
    config = TrainConfig(lr=0.01, schedule="onecycle")
    schedule = _schedule(optimizer, config, steps=100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01, rel=1e-3)
    assert int(np.argmax(rates)) in range(28, 32)  # the peak at 30 % of the steps
    assert rates[-1] < 1e-5


@pytest.mark.parametrize(("m", "batch", "min_rows", "expected"),
                         [(100, 32, 2, 4), (97, 32, 2, 3), (98, 32, 2, 4), (97, 48, 2, 2),
                          (65, 32, 2, 2), (64, 32, 2, 2), (66, 32, 4, 2)])
def test_steps_per_epoch_counts_the_batches_an_epoch_yields(
    m: int, batch: int, min_rows: int, expected: int
) -> None:
    from mdlnas.search.batches import TensorSplit

    split = TensorSplit(torch.zeros(m, 1), torch.zeros(m))
    counted = sum(1 for _ in split.batches(batch, np.random.default_rng(0), min_rows))
    assert counted == expected == split.n_batches(batch, min_rows)


def test_one_cycle_retraining_runs_every_step_of_its_schedule() -> None:
    # 97 rows in batches of 32 leave a last batch of 1, which is dropped: a schedule that
    # counted it would raise when stepped past its end, one that did not would stop short
    data = noise_labels(97)
    result = retrain(GENOTYPE, data, TrainConfig(epochs=3, schedule="onecycle", batch_size=32,
                                                 device="cpu", weight_decay=0.01, refit=False))
    assert result.history[-1]["lr"] < 1e-6  # the last step ran at the end of the cycle
