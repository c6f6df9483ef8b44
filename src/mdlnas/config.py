"""Frozen settings for each stage, validated where they are made.

The CLI and the estimators only build these; library code receives them explicitly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

from mdlnas.errors import ConfigError

HypergradientMethod = Literal["exact", "fd"]
DeriveRule = Literal["mdl", "darts"]
SigmaInit = Literal["absolute", "relative"]
PriorMean = Literal["zero", "empirical"]
Schedule = Literal["cosine", "onecycle"]


def _finite(name: str, value: object) -> float:
    """``value`` as a float, refusing text, booleans, NaN and infinity by name (settings
    also arrive from hand-edited config.toml files, not only from typed code). NumPy
    scalars are numbers too."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(name: str, value: object) -> None:
    if not _finite(name, value) > 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def _non_negative(name: str, value: object) -> None:
    if not _finite(name, value) >= 0:
        raise ConfigError(f"{name} must be zero or positive, got {value}")


def _is_int(value: object) -> TypeGuard[int]:
    # numbers.Integral admits NumPy integers; True is not a count.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_ints(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _seed(value: object) -> None:
    if not _is_int(value) or value < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {value!r}")


def _positive_ints_or_none(config: object, *names: str) -> None:
    _positive_ints(config, *(n for n in names if getattr(config, n) is not None))


def batch_size_for(requested: int | None, n_examples: int, largest: int) -> int:
    """The batch size to use on ``n_examples`` training examples.

    ``None`` picks one from the data: a tenth of the examples (so an epoch is about ten
    steps even on a small table), at least 16 and at most ``largest``. A size the user
    asked for is kept, but may not exceed the data."""
    if requested is None:
        return max(2, min(largest, max(16, n_examples // 10), n_examples))
    if requested > n_examples:
        raise ConfigError(
            f"batch size {requested} is larger than the {n_examples} training examples; "
            f"use --batch-size {n_examples} or less"
        )
    return requested


def _device(name: object) -> None:
    if not isinstance(name, str) or (
        name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:")
    ):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")


@dataclass(frozen=True)
class BayesConfig:
    """How weights are described.

    ``variational``: Gaussian posterior (True) or point weights (False, plain DARTS).
    ``prior_std``: standard deviation ``s`` of the prior ``N(0, s^2)``; ``None`` sets it
    per tensor by empirical Bayes (``s^2 = mean(mu^2 + sigma^2)``, the KL-minimising value).
    ``prior_mean``: ``"zero"``, or ``"empirical"`` (with ``prior_std=None``): the prior's
    mean is also fitted per tensor in closed form, ``m = mean(mu)`` and
    ``s^2 = mean((mu - m)^2 + sigma^2)`` (Graves 2011).
    ``init_sigma``: posterior standard deviation at initialisation; with
    ``sigma_init="relative"`` a fraction of each tensor's initial scale (its He standard
    deviation), so that a weight's first price does not depend on the layer's width.
    ``sigma_lr``: learning rate of the posterior widths (``rho``, σ = softplus(ρ)); None
    uses the weights' learning rate. ρ moves on a log scale, so at a small learning rate
    and few steps σ barely leaves ``init_sigma`` and every weight costs about
    ``-ln init_sigma`` nats whatever its use; a larger one lets unneeded weights grow wide
    (and cheap) within a short search.
    """

    variational: bool = True
    prior_std: float | None = None
    init_sigma: float = 0.3
    sigma_lr: float | None = 0.03
    sigma_init: SigmaInit = "relative"
    prior_mean: PriorMean = "zero"

    def __post_init__(self) -> None:
        if not isinstance(self.variational, bool):
            raise ConfigError(f"variational must be true or false, got {self.variational!r}")
        if self.prior_std is not None:
            _positive("prior_std", self.prior_std)
        _positive("init_sigma", self.init_sigma)
        if self.sigma_lr is not None:
            _positive("sigma_lr", self.sigma_lr)
        if self.sigma_init not in ("absolute", "relative"):
            raise ConfigError(
                f"sigma_init must be 'absolute' or 'relative', got {self.sigma_init!r}"
            )
        if self.prior_mean not in ("zero", "empirical"):
            raise ConfigError(f"prior_mean must be 'zero' or 'empirical', got {self.prior_mean!r}")
        if self.prior_mean == "empirical" and self.prior_std is not None:
            raise ConfigError(
                "an empirical prior mean needs the empirical prior variance too "
                "(prior_std = \"empirical\")"
            )


@dataclass(frozen=True)
class SpaceConfig:
    """A search space: which ops, how many nodes per cell, how cells are stacked.

    ``dim`` is 0 for vectors (MLP cells), 1 for signals and 2 for images.
    ``reduction_layers`` lists the cells (0-based) that halve the resolution and multiply
    the channels by ``channel_growth`` (2 as in DARTS; 1 keeps the width, which suits
    small networks); all normal cells share one set of architecture parameters, and all reduction
    cells another, as in DARTS.
    """

    name: str
    dim: int
    ops: tuple[str, ...]
    n_nodes: int = 3
    layers: int = 1
    channels: int = 16
    reduction_layers: tuple[int, ...] = ()
    channel_growth: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a search space needs a name, got {self.name!r}")
        if not _is_int(self.dim) or self.dim not in (0, 1, 2):
            raise ConfigError(f"space dim must be 0 (vectors), 1 or 2, got {self.dim!r}")
        if not isinstance(self.ops, tuple):
            raise ConfigError(f"candidate ops must be a tuple of op names, got {self.ops!r}")
        if not self.ops:
            raise ConfigError("a search space needs at least one candidate op")
        if len(set(self.ops)) != len(self.ops):
            raise ConfigError(f"candidate ops must be distinct, got {list(self.ops)}")
        if not all(isinstance(op, str) and op for op in self.ops):
            raise ConfigError(f"candidate ops must be op names, got {list(self.ops)}")
        if all(op == "zero" for op in self.ops):
            raise ConfigError("a search space needs at least one op other than 'zero'")
        _positive_ints(self, "n_nodes", "layers", "channels", "channel_growth")
        if not isinstance(self.reduction_layers, tuple) or not all(
            _is_int(i) for i in self.reduction_layers
        ):
            raise ConfigError(
                f"reduction_layers must be a tuple of cell indices, got {self.reduction_layers!r}"
            )
        bad = [i for i in self.reduction_layers if not 0 <= i < self.layers]
        if bad:
            raise ConfigError(f"reduction_layers {bad} are outside 0..{self.layers - 1}")
        if self.dim == 0 and self.reduction_layers:
            raise ConfigError("MLP spaces (dim 0) have no reduction cells")

    @property
    def n_edges(self) -> int:
        """Edges of one cell: every node ``j`` takes every earlier node ``i < j``."""
        return self.n_nodes * (self.n_nodes + 1) // 2

    @property
    def direct_path(self) -> bool:
        """Whether the networks have a linear path from the input to the output beside
        the cells, so that the linear model (an empty cell) is one of the architectures:
        vector spaces do (on tables it is often the model to beat)."""
        return self.dim == 0


@dataclass(frozen=True)
class SearchConfig:
    """The bilevel search.

    ``lam`` weighs the description length (1 = variational free energy, 0 = none);
    ``xi`` is the step of the unrolled weight update in the hypergradient (0 = first
    order), independent of ``w_lr``; ``hypergradient`` picks how the second-order term is
    computed. During the first ``warmup_epochs`` only the weights are trained, α stays
    fixed and the complexity weight rises linearly from 0 towards ``lam``, so that the
    description length of weights that have not learnt anything yet does not decide the
    architecture. The search stops when the per-epoch relative change of both the weights and
    the architecture stays below ``tol`` for ``patience`` epochs, or after ``max_epochs``.

    Calibration (after the warm-up, before α moves): at most ``calibration_epochs`` epochs
    train the weights, their widths σ and the prior under the full λ with α frozen, until
    every op's description length per weight changes by less than ``calibration_tol``
    (relative) from one epoch to the next. Without it α is priced by the description
    length of the initial σ, not by what each op needs, and falls to parameter-free ops.
    ``max_epochs`` counts every epoch, calibration included, and calibration takes at most
    half of the epochs after the warm-up.
    """

    lam: float = 1.0
    xi: float = 0.0
    hypergradient: HypergradientMethod = "exact"
    max_epochs: int = 20
    warmup_epochs: int = 0
    calibration_epochs: int = 8
    calibration_tol: float = 0.05
    tol: float = 1e-3
    patience: int = 3
    batch_size: int | None = None  # None: chosen from the data, see batch_size_for
    w_lr: float = 3e-3
    w_weight_decay: float = 0.0
    alpha_lr: float = 3e-2
    alpha_weight_decay: float = 1e-3
    grad_clip: float = 5.0
    derive: DeriveRule = "mdl"
    darts_top_k: int = 2
    seed: int = 0
    device: str = "auto"
    bayes: BayesConfig = field(default_factory=BayesConfig)

    def __post_init__(self) -> None:
        _non_negative("lam", self.lam)
        _non_negative("xi", self.xi)
        for name in ("warmup_epochs", "calibration_epochs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        _positive("calibration_tol", self.calibration_tol)
        _non_negative("tol", self.tol)
        _non_negative("w_weight_decay", self.w_weight_decay)
        _non_negative("alpha_weight_decay", self.alpha_weight_decay)
        _positive("w_lr", self.w_lr)
        _positive("alpha_lr", self.alpha_lr)
        _positive("grad_clip", self.grad_clip)
        _positive_ints(self, "max_epochs", "patience", "darts_top_k")
        _positive_ints_or_none(self, "batch_size")
        if self.hypergradient not in ("exact", "fd"):
            raise ConfigError(f"hypergradient must be 'exact' or 'fd', got {self.hypergradient!r}")
        if self.derive not in ("mdl", "darts"):
            raise ConfigError(f"derive must be 'mdl' or 'darts', got {self.derive!r}")
        _seed(self.seed)
        _device(self.device)
        _bayes(self.bayes)


@dataclass(frozen=True)
class TrainConfig:
    """Retraining a genotype from scratch.

    ``lam`` weighs the description length during variational retraining (the same free
    energy as the search, with α fixed); it has no effect on deterministic weights. None
    (the default) takes the search's λ in a run or an estimator, so one λ sets the whole
    trade-off (a network found at λ = 0.001 and retrained at λ = 1 lost 2.5 points on
    MNIST-1D); :func:`~mdlnas.train.retrain.retrain` called alone reads None as 1.
    ``n_train``: training rows for retraining; None keeps the search's, 0 takes every
    training row (search on a subset, retrain on all; the test part is the same).
    ``schedule``: the learning rate over the whole retraining, ``"cosine"`` (from ``lr``
    down to 0) or ``"onecycle"`` (up to ``lr`` in the first 30 % of the steps, then down).
    ``refit``: once the architecture is chosen, train on the training and validation rows
    together for all ``epochs`` and keep the last epoch (nothing is left to select on);
    otherwise train on the training rows and keep the epoch of best validation NLL.
    """

    epochs: int = 150
    batch_size: int | None = None  # None: chosen from the data, see batch_size_for
    lr: float = 1e-2
    weight_decay: float = 1e-2
    schedule: Schedule = "onecycle"
    refit: bool = True
    lam: float | None = None
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "auto"
    bayes: BayesConfig = field(default_factory=BayesConfig)
    n_train: int | None = None

    def __post_init__(self) -> None:
        _positive("lr", self.lr)
        _positive("grad_clip", self.grad_clip)
        if self.n_train is not None and (not _is_int(self.n_train) or self.n_train < 0):
            raise ConfigError(f"n_train must be 0 (all rows) or positive, got {self.n_train!r}")
        if self.lam is not None:
            _non_negative("lam", self.lam)
        _non_negative("weight_decay", self.weight_decay)
        if self.schedule not in ("cosine", "onecycle"):
            raise ConfigError(f"schedule must be 'cosine' or 'onecycle', got {self.schedule!r}")
        if not isinstance(self.refit, bool):
            raise ConfigError(f"refit must be true or false, got {self.refit!r}")
        _positive_ints(self, "epochs")
        _positive_ints_or_none(self, "batch_size")
        _seed(self.seed)
        _device(self.device)
        _bayes(self.bayes)


def _bayes(value: object) -> None:
    if not isinstance(value, BayesConfig):
        raise ConfigError(f"bayes must be a BayesConfig, got {value!r}")
