"""Frozen settings for each stage, validated where they are made.

The CLI and the estimators only build these; library code receives them explicitly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

from mdlnas.errors import ConfigError
from mdlnas.settings import check_settings, setting

# What the network predicts: class probabilities (cross-entropy) or a value (Gaussian NLL).
Task = Literal["classification", "regression"]
HypergradientMethod = Literal["exact", "fd"]
DeriveRule = Literal["mdl", "darts"]
Relaxation = Literal["softmax", "gumbel", "reinforce"]
WeightPaths = Literal["alpha", "uniform"]
FamilyFollow = Literal["none", "widths", "weights"]
FamilyBalance = Literal["raw", "balanced"]

# Search epochs when --epochs is not given: a family needs more to settle α (docs/RESULTS.md).
SINGLE_EPOCHS = 20
FAMILY_EPOCHS = 32

SigmaInit = Literal["absolute", "relative"]
PriorMean = Literal["zero", "empirical"]
Schedule = Literal["cosine", "onecycle"]
Augment = Literal["none", "shift", "shift-flip"]


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


def _count(name: str, value: object) -> None:
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _count0(name: str, value: object) -> None:
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")


def _two_or_more(name: str, value: object) -> None:
    if not _is_int(value) or value < 2:
        raise ConfigError(f"{name} must be an integer of at least 2, got {value!r}")


def _is_int(value: object) -> TypeGuard[int]:
    # numbers.Integral admits NumPy integers; True is not a count.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_ints(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


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


def lam_range_bounds(text: str) -> tuple[float, float]:
    """``"LO:HI"`` as ``(LO, HI)``, with ``0 < LO ≤ HI`` (λ is drawn log-uniformly)."""
    low, sep, high = str(text).partition(":")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        bounds = (math.nan, math.nan)
    if not sep or not all(math.isfinite(b) and b > 0 for b in bounds) or bounds[0] > bounds[1]:
        raise ConfigError(
            f"lam_range must be LO:HI with 0 < LO <= HI (e.g. 0.1:10), got {text!r}"
        )
    return bounds


def _lam_range(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text LO:HI (e.g. '0.1:10'), got {value!r}")
    lam_range_bounds(value)


def _device(_: str, name: object) -> None:
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

    variational: bool = setting(
        True, flag="deterministic", negated=True,
        help="Gaussian posterior N(μ, σ²) per weight (true) or point weights, which have no "
        "description length (false: plain DARTS; with the flag, use --lam 0 too)",
    )
    prior_std: float | None = setting(
        None, flag="prior-std", shared=True, unset="empirical", bounds=_positive,
        help="standard deviation s of the prior N(0, s²) of every weight, or \"empirical\": "
        "set per tensor in closed form, the KL-minimising value",
    )
    init_sigma: float = setting(
        0.3, flag="init-sigma", shared=True, bounds=_positive,
        help="posterior standard deviation σ of every weight at initialisation; with "
        "sigma_init relative, a fraction of each tensor's initial (He) scale",
    )
    sigma_lr: float | None = setting(
        0.03, flag="sigma-lr", shared=True, bounds=_positive,
        help="learning rate of the posterior widths σ (unset: the weights' learning rate; "
        "0.03 lets σ reach what each weight needs within a search)",
    )
    sigma_init: SigmaInit = setting(
        "relative", flag="sigma-init", shared=True,
        help="absolute: init_sigma is σ itself; relative: a fraction of each tensor's "
        "initial (He) standard deviation, so a weight's first price does not depend on its "
        "layer's width",
    )
    prior_mean: PriorMean = setting(
        "zero", flag="prior-mean", shared=True,
        help="zero, or empirical: the prior's mean is fitted per tensor in closed form too "
        "(Graves 2011; needs the empirical prior_std)",
    )

    def __post_init__(self) -> None:
        check_settings(self)
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

    name: str = setting(
        flag="space",
        help="a preset: mlp (tables), conv1d (signals), conv2d (images) (unset: chosen from "
        "the data)",
    )
    dim: int = setting(
        help="0 for vectors (MLP cells), 1 for signals, 2 for images (complete spaces only)"
    )
    ops: tuple[str, ...] = setting(
        flag="ops",
        help="candidate ops on every edge, see `mdlnas list` (a list in a file, "
        "comma-separated on the command line; unset: the preset's)",
    )
    n_nodes: int = setting(
        3, flag="nodes",
        help="nodes per cell; node j sums ops of all nodes before it (unset: the preset's)",
    )
    layers: int = setting(1, flag="layers", help="cells stacked in the network (unset: the "
                          "preset's)")
    channels: int = setting(16, flag="channels", help="channels (convolutions) or width (MLP) "
                            "(unset: the preset's)")
    reduction_layers: tuple[int, ...] = setting(
        (),
        help="0-based indices of the cells that halve the resolution (complete spaces only; "
        "presets place them at a third and two thirds of the depth)",
    )
    channel_growth: int = setting(
        2, flag="growth",
        help="channel multiplier of reduction cells (unset: the preset's: 1, which keeps the "
        "width, for conv1d and conv2d; 2 doubles it, as DARTS)",
    )
    stem_stride: int = setting(
        1, flag="stem-stride",
        help="stride of the stem convolution: 2 halves signals or images before the first "
        "cell, a quarter of the cells' work on images (unset: the preset's)",
    )

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
        _positive_ints(self, "n_nodes", "layers", "channels", "channel_growth", "stem_stride")
        if self.dim == 0 and self.stem_stride != 1:
            raise ConfigError("MLP spaces (dim 0) have no stem stride; leave it at 1")
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

    lam: float = setting(
        1.0, flag="lam", bounds=_non_negative,
        help="weight λ of the description length: 1 is the variational free energy, 0 none "
        "(DARTS)",
    )
    lam_range: str | None = setting(
        None, flag="lam-range", metavar="LO:HI", bounds=_lam_range,
        help="search the whole complexity family at once: λ drawn log-uniformly from LO:HI "
        "at every step, α a function of log λ; writes front.csv and genotypes/ (replaces "
        "--lam)",
    )
    lam_knots: int = setting(
        2, flag="lam-knots", bounds=_count,
        help="family: α at this many values of log λ evenly over the range, linear between "
        "(2: α linear in log λ)",
    )
    family_follow: FamilyFollow = setting(
        "none", flag="family-follow",
        help="family: which variational parameters are, like α, linear in log λ: none "
        "(shared by the whole range), widths (σ's ρ), weights (μ and ρ)",
    )
    family_balance: FamilyBalance = setting(
        "balanced", flag="family-balance",
        help="family: each step's free energy as it is (raw), or divided by 1 + λ "
        "(balanced: the top of the range does not drown its bottom in α and the weights)",
    )
    lam_points: int = setting(
        9, flag="lam-points", bounds=_count,
        help="family: read the architecture off at this many λ, log-evenly over the range",
    )
    max_weights: int | None = setting(
        None, flag="max-weights", bounds=_count,
        help="budget: of the family, retrain the most accurate network on validation with "
        "at most this many weights (without --lam-range, the family of λ 0.01:10)",
    )
    max_macs: int | None = setting(
        None, flag="max-macs", bounds=_count,
        help="budget: at most this many multiply-accumulates per example (as --max-weights)",
    )
    trial_epochs: int = setting(
        30, flag="trial-epochs", bounds=_count0,
        help="budget: train each distinct network of the family within the budget this many "
        "epochs on the training rows and pick the best on validation (0: pick by the "
        "supernet's validation metric at each λ)",
    )
    budget_fill: bool = setting(
        True, flag="budget-fill",
        help="budget: rebuild each network of the family in the widest frame (channels) "
        "that fits the budget before its trial, so a small cell is widened and a cell just "
        "over the budget narrowed; the chosen network is retrained at that width",
    )
    xi: float = setting(
        0.0, flag="xi", bounds=_non_negative,
        help="ξ of the unrolled weight step in the hypergradient; 0 is first order",
    )
    hypergradient: HypergradientMethod = setting(
        "exact", flag="hypergradient",
        help="second-order term by double backward (exact) or finite difference (fd)",
    )
    max_epochs: int | None = setting(
        None, flag="epochs", bounds=_count,
        help=f"at most this many search epochs, calibration included (unset: {SINGLE_EPOCHS}, "
        f"a family {FAMILY_EPOCHS}); the search stops earlier once it converges",
    )
    warmup_epochs: int = setting(
        0, flag="warmup", bounds=_count0,
        help="first epochs train only the weights, λ rising from 0, α fixed",
    )
    calibration_epochs: int = setting(
        8, flag="calibrate", metavar="N", bounds=_count0,
        help="after the warm-up, at most this many epochs (and at most half of the rest) "
        "train the weights, σ and prior at full λ with α frozen, until every op's "
        "description length per weight has settled (0: no calibration)",
    )
    calibration_tol: float = setting(
        0.05, flag="calibration-tol", bounds=_positive,
        help="calibration ends when no op's description length per weight changes by more "
        "than this fraction in an epoch",
    )
    tol: float = setting(
        1e-3, flag="tol", bounds=_non_negative,
        help="convergence: relative change of weights and α per epoch below this",
    )
    patience: int = setting(
        3, flag="patience", bounds=_count, help="convergence: for this many epochs in a row"
    )
    batch_size: int | None = setting(
        None, flag="batch-size", bounds=_count,
        help="search batch size (unset: a tenth of the training rows, 16 to 128)",
    )
    w_lr: float = setting(
        3e-3, flag="w-lr", bounds=_positive, help="learning rate of the weights (Adam)"
    )
    w_weight_decay: float = setting(
        0.0, bounds=_non_negative, help="weight decay of the weights"
    )
    alpha_lr: float = setting(
        3e-2, flag="alpha-lr", bounds=_positive,
        help="learning rate of the architecture α (Adam)",
    )
    alpha_weight_decay: float = setting(
        1e-3, flag="alpha-weight-decay", bounds=_non_negative, help="weight decay of α"
    )
    grad_clip: float = setting(
        5.0, bounds=_positive, help="clip the weights' gradient norm to this"
    )
    relaxation: Relaxation = setting(
        "softmax", flag="relaxation",
        help="softmax: every edge mixes all its ops by softmax(α) (DARTS); gumbel: every "
        "edge computes one op sampled from softmax(α), straight-through gradients (GDAS), "
        "several times cheaper a step; reinforce: the same sampled paths, α moved by the "
        "score-function gradient of --paths paths a batch",
    )
    weight_paths: WeightPaths = setting(
        "alpha", flag="weight-paths",
        help="gumbel, reinforce: the weight step trains a path drawn from softmax(α) (alpha) "
        "or one drawn uniformly, every op equally often (uniform, as single-path one-shot "
        "NAS); α's steps always draw from softmax(α)",
    )
    paths: int = setting(
        4, flag="paths", bounds=_two_or_more,
        help="reinforce: paths drawn for each validation batch of the architecture step; "
        "each path's NLL is compared with the mean of the others' (the second-order "
        "term's training batch draws two)",
    )
    partial_channels: int = setting(
        1, flag="partial-channels", bounds=_count,
        help="softmax: each edge's ops see 1/K of its channels and the rest pass by "
        "(PC-DARTS), about K times cheaper a step; an op's description length is its narrow "
        "copy's times its weights at full width over the copy's; 1: every channel",
    )
    tau_start: float = setting(
        10.0, flag="tau-start", bounds=_positive,
        help="gumbel: temperature of the straight-through gradient when α starts moving",
    )
    tau_end: float = setting(
        0.1, flag="tau-end", bounds=_positive,
        help="gumbel: temperature at the last epoch (geometric in between)",
    )
    derive: DeriveRule = setting(
        "mdl", flag="derive",
        help="mdl: an edge goes when γ_zero ≥ ½, else keeps its best non-zero op (an empty "
        "mlp cell is the linear model); darts: the top-k non-zero edges per node",
    )
    darts_top_k: int = setting(2, bounds=_count, help="edges kept per node by the darts rule")
    seed: int = setting(
        0, flag="seed", shared=True, bounds=_count0,
        help="seed of the initialisation and the noise of the search",
    )
    device: str = setting(
        "auto", flag="device", shared=True, bounds=_device,
        cli_help='"auto", "cpu", "cuda" or "cuda:N" of the search and the retraining',
        help='"auto", "cpu", "cuda" or "cuda:N"',
    )
    bayes: BayesConfig = field(default_factory=BayesConfig)

    def __post_init__(self) -> None:
        check_settings(self)
        _bayes(self.bayes)
        if self.partial_channels > 1 and self.relaxation != "softmax":
            raise ConfigError(
                f"--partial-channels {self.partial_channels} mixes part of the channels of a "
                f"softmax mixture; with --relaxation {self.relaxation} give 1"
            )

    @property
    def family_lam_range(self) -> str | None:
        """``LO:HI`` of a family search, or None for a single λ. A budget alone searches
        the family over :data:`BUDGET_LAM_RANGE`."""
        if self.lam_range is None and (self.max_weights is not None
                                       or self.max_macs is not None):
            return BUDGET_LAM_RANGE
        return self.lam_range

    @property
    def family_range(self) -> tuple[float, float] | None:
        """:attr:`family_lam_range` as numbers."""
        text = self.family_lam_range
        return None if text is None else lam_range_bounds(text)

    @property
    def epoch_limit(self) -> int:
        """``max_epochs``, or unset the default of a single search or of a family: α is
        shared by more λ in a family and moves more slowly at each (docs/RESULTS.md)."""
        if self.max_epochs is not None:
            return self.max_epochs
        return FAMILY_EPOCHS if self.family_lam_range is not None else SINGLE_EPOCHS


# The family a budget searches when no range is given: on MNIST-1D λ = 10 keeps the frame
# alone and λ = 0.01 a network near plain DARTS's size (docs/RESULTS.md).
BUDGET_LAM_RANGE = "0.01:10"


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

    epochs: int = setting(150, flag="epochs", bounds=_count, help="epochs of retraining")
    batch_size: int | None = setting(
        None, flag="batch-size", bounds=_count,
        help="retraining batch size (unset: a tenth of the training rows, 16 to 64)",
    )
    lr: float = setting(
        1e-2, flag="lr", bounds=_positive,
        help="retraining learning rate (AdamW; the peak of the schedule)",
    )
    weight_decay: float = setting(
        1e-2, flag="weight-decay", bounds=_non_negative,
        help="decoupled weight decay (AdamW) of the weights, never of their widths σ",
    )
    schedule: Schedule = setting(
        "onecycle", flag="schedule",
        help="learning rate over the retraining: cosine (from lr down to 0) or onecycle (up "
        "to lr in the first 30 % of the steps, then down)",
    )
    refit: bool = setting(
        True, flag="refit",
        help="retrain on the training and validation rows together and keep the last "
        "epoch, instead of training on the training rows and keeping the epoch of best "
        "validation NLL",
    )
    lam: float | None = setting(
        None, flag="lam", bounds=_non_negative,
        help="weight of the description length while retraining variationally (unset: the "
        "search's λ)",
    )
    augment: Augment = setting(
        "none", flag="augment",
        help="random changes to each retraining batch of images or signals: none; shift "
        "(every example moved by up to 1/14 of each axis, 2 pixels of 28, the gap zero); "
        "shift-flip (also mirrored left to right half of the time: for images whose class "
        "does not depend on the side, not digits)",
    )
    grad_clip: float = setting(5.0, bounds=_positive, help="clip the gradient norm to this")
    seed: int = setting(0, flag="seed", shared=True, bounds=_count0,
                        help="seed of the initialisation and noise")
    device: str = setting("auto", flag="device", shared=True, bounds=_device,
                          help='"auto", "cpu", "cuda" or "cuda:N"')
    bayes: BayesConfig = field(default_factory=BayesConfig)
    n_train: int | None = setting(
        None, flag="n-train",
        help="training rows for retraining: unset keeps the search's, 0 takes every training "
        "row (search on a subset, retrain on all); the test part stays the same",
    )
    channels: int | None = setting(
        None, flag="channels", bounds=_count,
        help="retrain the found cells in a frame of this width (unset: the search's); with "
        "the depth, the proxy-search workflow: search small, retrain large",
    )
    layers: int | None = setting(
        None, flag="layers", bounds=_count,
        help="retrain the found cells stacked this many times (unset: the search's); "
        "reductions at a third and two thirds of the depth",
    )

    def __post_init__(self) -> None:
        check_settings(self)
        if self.n_train is not None and (not _is_int(self.n_train) or self.n_train < 0):
            raise ConfigError(f"n_train must be 0 (all rows) or positive, got {self.n_train!r}")
        _bayes(self.bayes)


def _bayes(value: object) -> None:
    if not isinstance(value, BayesConfig):
        raise ConfigError(f"bayes must be a BayesConfig, got {value!r}")
