"""Reference models trained in mdlnas's harness: the same ``load_data(name, seed=...)``
split, fitted on the training part only, scored once on the test part.

- MNIST-1D: the MLP and the CNN of Greydanus's MNIST-1D paper (``MLPBase`` with hidden size
  100, 15,210 weights; ``ConvBase``, 5,210 weights; both from the paper's repository,
  ``notebooks/models.py``), trained with the package's default arguments (Adam, learning
  rate 1e-2, no weight decay, batch 100, 8,000 steps, final weights).
- scikit-learn sets: ``LogisticRegression`` and ``MLPClassifier`` (one hidden layer of 100)
  for classification; ``LinearRegression`` and ``MLPRegressor`` for regression.
- MNIST-1D, a hand-designed CNN (the one issue 16 measured): four convolutions of one
  width ``w`` (5, 3 dilated, 3, 3 dilated wide), BatchNorm, two max-pools, global average
  pooling and a linear head, ``9w² + 23w + 10`` weights; ``hand-cnn-8`` (770 weights),
  ``hand-cnn-12`` (1,582) and ``hand-cnn-32`` (9,962), trained with mdlnas's retraining
  recipe (AdamW, weight decay 0.01, one-cycle learning rate peaking at 0.01, 150 epochs,
  batch 64, on the training and validation rows, last epoch), no augmentation.
- Fashion-MNIST: a LeNet-5-sized CNN (61,706 weights), Adam 1e-3, batch 128, a fixed
  number of epochs.

Every reference returns one row (a dict) in the format of ``benchmarks/results.py``.
Run one from the command line (this prints the row as JSON):

    python benchmarks/references.py --data mnist1d --model mnist1d-cnn --seed 0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlnas.data import DataBundle, load_data
from mdlnas.device import resolve_device
from mdlnas.search.batches import to_tensors
from mdlnas.search.evaluation import score
from mdlnas.train.retrain import refit_rows

Row = dict[str, Any]


# -- MNIST-1D: the paper's models --------------------------------------------------------
class Mnist1dMLP(nn.Module):
    """MNIST-1D paper's ``MLPBase``: 40 → 100 → 100 → 10, ReLU, with the paper's residual
    connection around the second layer; 15,210 weights."""

    def __init__(self, input_size: int = 40, output_size: int = 10, hidden: int = 100) -> None:
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, 1, 40) → (B, 40)
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        out: torch.Tensor = self.linear3(h)  # (B, 10)
        return out


class Mnist1dCNN(nn.Module):
    """MNIST-1D paper's ``ConvBase``: three stride-2 convolutions of 25 channels, ReLU, and
    a linear classifier on the flattened features; 5,210 weights for 40-step signals."""

    def __init__(self, length: int = 40, output_size: int = 10, channels: int = 25) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for kernel in (5, 3, 3):  # stride 2, padding 1: 40 → 19 → 10 → 5
            length = (length + 2 - kernel) // 2 + 1
        self.linear = nn.Linear(channels * length, output_size)  # 25·5 = 125 for length 40

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], 1, x.shape[-1])  # (B, 1, 40)
        h = self.conv1(x).relu()  # (B, 25, 19)
        h = self.conv2(h).relu()  # (B, 25, 10)
        h = self.conv3(h).relu()  # (B, 25, 5)
        out: torch.Tensor = self.linear(h.flatten(1))  # (B, 10)
        return out


# -- Fashion-MNIST: LeNet-5 -------------------------------------------------------------
class HandCNN(nn.Module):
    """A small 1-D CNN a person writes in ten lines: conv5 → conv3 (dilation 2) → max-pool →
    conv3 → conv3 (dilation 2) → max-pool → global average → linear, all of width ``width``,
    each convolution followed by BatchNorm and ReLU."""

    def __init__(self, width: int, in_channels: int = 1, output_size: int = 10) -> None:
        super().__init__()

        def block(c_in: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
            pad = dilation * (kernel - 1) // 2
            return [nn.Conv1d(c_in, width, kernel, padding=pad, dilation=dilation, bias=False),
                    nn.BatchNorm1d(width), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, 5), *block(width, 3, 2), nn.MaxPool1d(2),
            *block(width, 3), *block(width, 3, 2), nn.MaxPool1d(2),
        )
        self.head = nn.Linear(width, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(-1)  # (B, C, L) -> (B, C)
        out: torch.Tensor = self.head(h)  # (B, classes)
        return out


class LeNet5(nn.Module):
    """LeNet-5 sized for 28×28 inputs (the first convolution pads by 2, as LeCun's 32×32
    input did): conv 6@5×5 → max-pool → conv 16@5×5 → max-pool → 120 → 84 → classes, ReLU.
    61,706 weights for 10 classes."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, n_classes)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.conv1(x).relu())  # (B, 6, 14, 14)
        h = self.pool(self.conv2(h).relu())  # (B, 16, 5, 5)
        h = self.fc1(h.flatten(1)).relu()  # (B, 120)
        h = self.fc2(h).relu()  # (B, 84)
        out: torch.Tensor = self.fc3(h)  # (B, classes)
        return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- training a torch reference ---------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """How a torch reference is trained: Adam, fixed budget, no schedule. ``steps`` wins
    over ``epochs`` when both are set. ``select='last'`` keeps the final weights (as the
    MNIST-1D paper does); ``'best-val'`` the epoch with the best validation NLL (as mdlnas
    retraining does)."""

    lr: float
    batch_size: int
    steps: int | None = None
    epochs: int | None = None
    weight_decay: float = 0.0
    select: str = "last"
    refit: bool = False  # scikit-learn models: fit on training + validation rows
    # mdlnas's retraining recipe: AdamW, one-cycle schedule, training + validation rows
    recipe_of_mdlnas: bool = False


# mnist1d's get_model_args(): learning_rate 1e-2, weight_decay 0, batch_size 100, 8000 steps.
MNIST1D_RECIPE = Recipe(lr=1e-2, batch_size=100, steps=8000)
LENET_RECIPE = Recipe(lr=1e-3, batch_size=128, epochs=10)
MDLNAS_RECIPE = Recipe(lr=1e-2, batch_size=64, epochs=150, weight_decay=1e-2,
                       recipe_of_mdlnas=True)


def train_torch(
    model: nn.Module, data: DataBundle, recipe: Recipe, seed: int, device: torch.device
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model`` on ``data.train`` by cross-entropy; returns it and facts of the run."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = model.to(device)
    train, val = to_tensors(data.train, device), to_tensors(data.val, device)
    if recipe.recipe_of_mdlnas:
        train = to_tensors(refit_rows(data), device)
    per_epoch = math.ceil(len(train) / recipe.batch_size)
    steps = recipe.steps if recipe.steps is not None else (recipe.epochs or 1) * per_epoch
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None
    if recipe.recipe_of_mdlnas:
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(
            model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=steps, pct_start=0.3)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr,
                                     weight_decay=recipe.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    step, epoch = 0, 0
    start = time.perf_counter()
    while step < steps:
        model.train()
        for x, y in train.batches(recipe.batch_size, rng):
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            step += 1
            if step >= steps:
                break
        epoch += 1
        if recipe.select == "best-val":
            nll = score(model, val, "classification").nll
            if best is None or nll < best[0]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = (nll, epoch, state)
    seconds = time.perf_counter() - start
    if best is not None:
        model.load_state_dict(best[2])
    facts = {
        "train_steps": steps,
        "train_epochs": round(steps / per_epoch, 2),
        "best_epoch": None if best is None else best[1],
        "train_seconds": round(seconds, 3),
    }
    return model, facts


def _torch_row(
    model: nn.Module, data: DataBundle, recipe: Recipe, seed: int, device: torch.device
) -> Row:
    params = count_params(model)
    model, facts = train_torch(model, data, recipe, seed, device)
    test = score(model, to_tensors(data.test, device), "classification")
    return {
        "test_accuracy": test.metric,
        "test_nll": test.nll,
        "params": params,
        **facts,
        "recipe": {
            "optimizer": "adamw-onecycle-refit" if recipe.recipe_of_mdlnas else "adam",
            "lr": recipe.lr,
            "batch_size": recipe.batch_size,
            "weight_decay": recipe.weight_decay,
            "select": recipe.select,
        },
    }


# -- scikit-learn references ------------------------------------------------------------
def sklearn_params(model: Any) -> int:
    """Coefficients plus intercepts of a fitted linear model or MLP."""
    if hasattr(model, "coefs_"):
        layers = [*model.coefs_, *model.intercepts_]
        return int(sum(np.size(a) for a in layers))
    return int(np.size(model.coef_) + np.size(model.intercept_))


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def _sklearn_row(model: Any, data: DataBundle, refit: bool = False) -> Row:
    fit_on = refit_rows(data) if refit else data.train
    x_train, x_test = _flat(fit_on.x), _flat(data.test.x)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x_train, fit_on.y)
    seconds = time.perf_counter() - start
    row: Row = {"params": sklearn_params(model), "train_seconds": round(seconds, 3)}
    iterations = np.max(np.atleast_1d(getattr(model, "n_iter_", 0)))
    row["iterations"] = int(iterations)
    row["converged"] = not any("converge" in str(w.message).lower() for w in caught)
    if data.task == "classification":
        y = data.test.y
        proba = model.predict_proba(x_test)
        column = {int(c): i for i, c in enumerate(model.classes_)}
        picked = np.array([proba[i, column[int(c)]] if int(c) in column else 0.0
                           for i, c in enumerate(y)])
        row["test_accuracy"] = float(np.mean(model.classes_[proba.argmax(1)] == y))
        row["test_nll"] = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
    else:
        # Targets are standardised on the training part; RMSE back in the user's units, as
        # mdlnas.search.evaluation.score reports it.
        y_std = data.scaling.y_std if data.scaling is not None else 1.0
        residual = model.predict(x_test) - data.test.y
        row["test_rmse"] = float(np.sqrt(np.mean(residual**2)) * y_std)
        row["test_nll"] = None
    return row


# -- the catalogue ----------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """Settings a reference may read; ``None`` means the reference's own default."""

    device: str = "auto"
    epochs: int | None = None  # LeNet-5 epochs
    steps: int | None = None  # MNIST-1D steps
    select: str = "last"
    refit: bool = False  # scikit-learn models: fit on training + validation rows


def _mnist1d(build: Callable[[DataBundle], nn.Module]) -> Callable[[DataBundle, int, Options], Row]:
    def run(data: DataBundle, seed: int, opts: Options) -> Row:
        recipe = replace(MNIST1D_RECIPE, select=opts.select)
        if opts.steps is not None:
            recipe = replace(recipe, steps=opts.steps)
        torch.manual_seed(seed)
        return _torch_row(build(data), data, recipe, seed, resolve_device(opts.device))

    return run


def _hand_cnn(width: int) -> Callable[[DataBundle, int, Options], Row]:
    def run(data: DataBundle, seed: int, opts: Options) -> Row:
        torch.manual_seed(seed)
        model = HandCNN(width, data.input_shape[0], data.n_classes)
        return _torch_row(model, data, MDLNAS_RECIPE, seed, resolve_device(opts.device))

    return run


def _lenet(data: DataBundle, seed: int, opts: Options) -> Row:
    recipe = replace(LENET_RECIPE, select=opts.select)
    if opts.epochs is not None:
        recipe = replace(recipe, epochs=opts.epochs)
    torch.manual_seed(seed)
    model = LeNet5(data.input_shape[0], data.n_classes)
    return _torch_row(model, data, recipe, seed, resolve_device(opts.device))


def _sklearn(kind: str) -> Callable[[DataBundle, int, Options], Row]:
    def run(data: DataBundle, seed: int, opts: Options) -> Row:
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        # scikit-learn's defaults, except enough iterations to converge.
        mlp: dict[str, Any] = {"hidden_layer_sizes": (100,), "max_iter": 2000, "random_state": seed}
        models: dict[str, Callable[[], Any]] = {
            "logistic-regression": lambda: LogisticRegression(max_iter=5000),
            "mlp-classifier": lambda: MLPClassifier(**mlp),
            "linear-regression": LinearRegression,
            "mlp-regressor": lambda: MLPRegressor(**mlp),
        }
        return _sklearn_row(models[kind](), data, opts.refit)

    return run


REFERENCES: dict[str, Callable[[DataBundle, int, Options], Row]] = {
    "mnist1d-mlp": _mnist1d(lambda d: Mnist1dMLP(math.prod(d.input_shape), d.n_classes)),
    "mnist1d-cnn": _mnist1d(lambda d: Mnist1dCNN(d.input_shape[-1], d.n_classes)),
    "hand-cnn-8": _hand_cnn(8),
    "hand-cnn-12": _hand_cnn(12),
    "hand-cnn-32": _hand_cnn(32),
    "lenet5": _lenet,
    "logistic-regression": _sklearn("logistic-regression"),
    "mlp-classifier": _sklearn("mlp-classifier"),
    "linear-regression": _sklearn("linear-regression"),
    "mlp-regressor": _sklearn("mlp-regressor"),
}

LABELS = {
    "mnist1d-mlp": "MLP of the MNIST-1D paper",
    "mnist1d-cnn": "CNN of the MNIST-1D paper",
    "hand-cnn-8": "hand-designed CNN, width 8",
    "hand-cnn-12": "hand-designed CNN, width 12",
    "hand-cnn-32": "hand-designed CNN, width 32",
    "lenet5": "LeNet-5 (CNN)",
    "logistic-regression": "LogisticRegression",
    "mlp-classifier": "MLPClassifier (100)",
    "linear-regression": "LinearRegression",
    "mlp-regressor": "MLPRegressor (100)",
}

# Known datasets, so a campaign can be planned without loading them.
_BY_DATASET = {
    "mnist1d": ("mnist1d-mlp", "mnist1d-cnn"),
    "fashion-mnist": ("lenet5",),
    "diabetes": ("linear-regression", "mlp-regressor"),
}


def references_for(dataset: str, **load_kw: Any) -> tuple[str, ...]:
    """The reference models compared on ``dataset``: the paper's models for MNIST-1D,
    LeNet-5 for Fashion-MNIST, and scikit-learn models for everything else (by task)."""
    if dataset in _BY_DATASET:
        return _BY_DATASET[dataset]
    data = load_data(dataset, **load_kw)
    if data.task == "regression":
        return ("linear-regression", "mlp-regressor")
    return ("logistic-regression", "mlp-classifier")


def run_reference(
    name: str,
    dataset: str,
    seed: int,
    opts: Options = Options(),
    *,
    n_train: int | None = None,
    data_dir: str | None = None,
) -> Row:
    """Train reference ``name`` on ``dataset``'s split for ``seed`` and test it once."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r}; valid: {', '.join(REFERENCES)}")
    data = load_data(dataset, seed=seed, n_train=n_train, data_dir=data_dir)
    row = REFERENCES[name](data, seed, opts)
    metric = "accuracy" if "test_accuracy" in row else "rmse"
    return {
        "dataset": dataset,
        "method": name,
        "seed": seed,
        "metric": metric,
        **row,
        "description_length_bits": None,
        "search_seconds": 0.0,
        "n_train": len(data.train),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Train one reference model in mdlnas's harness and print its row as JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", required=True, help="dataset name, as for `mdlnas search --data`")
    p.add_argument("--model", required=True, choices=sorted(REFERENCES))
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the training")
    p.add_argument("--n-train", type=int, help="use only this many training rows")
    p.add_argument("--data-dir", help="directory holding dataset files (fashion-mnist)")
    p.add_argument("--epochs", type=int, help=f"LeNet-5 epochs (default {LENET_RECIPE.epochs})")
    p.add_argument(
        "--steps", type=int, help=f"MNIST-1D models' steps (default {MNIST1D_RECIPE.steps})"
    )
    p.add_argument(
        "--select",
        choices=("last", "best-val"),
        default="last",
        help="torch models: keep the final weights or those of the best validation epoch",
    )
    p.add_argument(
        "--refit", action="store_true",
        help="scikit-learn models: fit on the training and validation rows, as mdlnas "
        "retrains the chosen network (torch models: see their recipe)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = p.parse_args(argv)
    opts = Options(device=args.device, epochs=args.epochs, steps=args.steps, select=args.select,
                   refit=args.refit)
    row = run_reference(
        args.model, args.data, args.seed, opts, n_train=args.n_train, data_dir=args.data_dir
    )
    print(json.dumps(row, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
