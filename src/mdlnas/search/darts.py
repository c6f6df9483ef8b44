"""The bilevel search (seed algorithm): variational DARTS charged by description length.

    while the weights change:
        # architecture step: α ← α − η_α · ∇_α F_val(w − ξ ∇_w F_train(w, α), α)
        # weight step:       β ← β − η_β · ∇_β F_train(β, α)
    derive the discrete architecture from α

The method itself (free energy, description length, hypergradient, step, stopping rule,
derivation) is :mod:`mdlnas.search.method`; :class:`BilevelSearch` holds the state around
it: the optimisers, the epochs and their phases (warm-up, calibration, search), the batches
and noise seeds, the checks for NaN, checkpoints. It runs the method's step with the fast
description length and hypergradient (``computation``), and with ``parallel`` from
:func:`mdlnas.distributed.data_parallel`: under torchrun each rank steps on its shard of
every batch and the gradients are averaged; with one process those hooks do nothing.
With ``lam = 0`` and deterministic weights this is plain DARTS (Liu et al. 2019).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from mdlnas.config import HypergradientMethod, SearchConfig, SpaceConfig, batch_size_for
from mdlnas.data.bundle import DataBundle
from mdlnas.device import resolve_device
from mdlnas.distributed import OneProcess, data_parallel
from mdlnas.errors import ConfigError, SearchError
from mdlnas.search import hypergradient as fast
from mdlnas.search.batches import cycle, to_tensors
from mdlnas.search.evaluation import score
from mdlnas.search.functional import BatchObjective
from mdlnas.search.method import (
    ChangeMonitor,
    DescriptionLength,
    FreeEnergy,
    HyperGradient,
    Objectives,
    bilevel_step,
    derive_genotype,
    expected_description_length,
    flatten,
    hypergradient,
    relative_change,
    settled,
)
from mdlnas.search.optim import adam
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import count_weights
from mdlnas.space.relaxation import temperature
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import optimizer_groups

LN2 = math.log(2.0)


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch of search did; losses in nats per example, DL in bits."""

    epoch: int
    train_loss: float
    train_nll: float
    val_loss: float
    val_nll: float
    val_metric: float
    description_length_bits: float
    alpha_entropy: float
    weight_change: float
    alpha_change: float
    seconds: float
    phase: str = "search"  # "warmup", "calibration" (α frozen in both) or "search"
    dl_per_weight: dict[str, float] = field(default_factory=dict)  # nats, by op (see Supernet)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    genotype: Genotype
    gammas: dict[str, np.ndarray]  # softmax(α) per cell type, (n_edges, n_ops)
    history: tuple[EpochRecord, ...]
    converged: bool
    epochs_run: int
    search_seconds: float
    supernet_params: int
    description_length_bits: float
    val_metric: float
    metric_name: str

    def summary(self) -> dict[str, Any]:
        return {
            "epochs_run": self.epochs_run,
            "converged": self.converged,
            "search_seconds": round(self.search_seconds, 3),
            "supernet_params": self.supernet_params,
            "description_length_bits": self.description_length_bits,
            "val_metric": self.val_metric,
            "metric": self.metric_name,
        }


EpochCallback = Callable[[EpochRecord, "BilevelSearch"], None]


def alpha_entropy(gammas: dict[str, torch.Tensor]) -> float:
    """Mean entropy (nats) of the op distribution over all edges: log(n_ops) is uniform,
    0 is a discrete choice."""
    rows = torch.cat([g.detach() for g in gammas.values()])
    return float(-(rows * rows.clamp_min(1e-12).log()).sum(-1).mean())


@dataclass(frozen=True)
class Computation:
    """How a search computes the two costly parts of the method: the description length in
    its objectives and the hypergradient in its architecture step."""

    description_length: DescriptionLength
    hypergradient: HyperGradient


def fast_computation(method: HypergradientMethod = "exact") -> Computation:
    """The search's default: the fused description length and the fast hypergradient
    (``method``: ``"exact"`` or DARTS's finite difference ``"fd"``)."""

    return Computation(Supernet.description_length, fast.fast_hypergradient(method))


# The method file's plain versions, which the fast ones are tested equal to.
REFERENCE = Computation(expected_description_length, hypergradient)


def lam_in_epoch(config: SearchConfig, epoch: int, lam: float | None = None) -> float:
    """The complexity weight used in 1-based ``epoch`` (``lam``, or the config's): during
    the warm-up it rises linearly from 0, so that the description length of weights that
    have not learnt anything yet does not decide the architecture."""
    lam = config.lam if lam is None else lam
    done = epoch - 1
    if done < config.warmup_epochs:
        return lam * done / config.warmup_epochs
    return lam


def lam_at(position: float, bounds: tuple[float, float]) -> float:
    """λ at ``position`` ∈ [0, 1] of the family's range: log-linear from its low end."""
    low, high = bounds
    if position <= 0.0 or low == high:  # exactly the ends, not exp(log(low))
        return low
    if position >= 1.0:
        return high
    return float(math.exp(math.log(low) + position * (math.log(high) - math.log(low))))


def position_of(lam: float, bounds: tuple[float, float]) -> float:
    """Where ``lam`` lies in the family's range (inverse of :func:`lam_at`, clipped to
    [0, 1]; 0 for a one-point range)."""
    low, high = bounds
    if high == low:
        return 0.0
    place = (math.log(lam) - math.log(low)) / (math.log(high) - math.log(low))
    return min(max(place, 0.0), 1.0)


# A family is judged and recorded at the middle of its range (the geometric mean λ).
MIDDLE = 0.5


class BilevelSearch:
    """The search's whole state, stepped one epoch at a time (so it can be checkpointed)."""

    def __init__(self, data: DataBundle, space: SpaceConfig, config: SearchConfig, *,
                 computation: Computation | None = None,
                 parallel: OneProcess | None = None) -> None:
        """``computation``: :func:`fast_computation` by default (:data:`REFERENCE` runs the
        method file's plain versions); ``parallel``: :func:`data_parallel` by default."""
        self.data, self.space, self.config = data, space, config
        self.computation = computation or fast_computation(config.hypergradient)
        self.parallel = parallel or data_parallel()
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        # a family search draws λ from its own stream, so that over a one-point range it is
        # the single search, noise for noise
        self.family = config.family_range
        self.lam_rng = np.random.default_rng([config.seed, 1])
        self.model = Supernet(
            space, data.input_shape, data.output_dim, data.task, config.bayes,
            knots=config.lam_knots if self.family else 1,
            # only a range has anything to follow (its position is 0 over one point)
            follow=config.family_follow if self.family and self.family[0] < self.family[1]
            else "none",
            partial=config.partial_channels,
        ).to(self.device)
        self.model.relaxation = config.relaxation
        # between steps (validation, results, a restored checkpoint) a family is read at
        # the middle of its range; each step moves it to the λ it draws
        self.model.position = self._place(MIDDLE)
        self.train_split = to_tensors(data.train, self.device)
        self.val_split = to_tensors(data.val, self.device)
        if len(self.train_split) < 2 or len(self.val_split) < 1:
            raise SearchError("the search needs at least 2 training and 1 validation example")
        self.m = len(self.train_split)
        self.batch_size = batch_size_for(config.batch_size, self.m, largest=128)
        self.min_rows = self.parallel.min_batch_rows()
        smallest = min(self.batch_size, len(self.val_split))
        if smallest < self.min_rows:
            raise ConfigError(
                f"{self.parallel.world} processes need batches of at least "
                f"{self.min_rows} rows (2 per process), but a batch has {smallest}; "
                "raise --batch-size or use fewer processes"
            )
        self.w_opt = adam(
            optimizer_groups(self.model, self.model.weight_parameters(), config.w_lr,
                             config.bayes.sigma_lr, config.w_weight_decay), self.device,
        )
        self.a_opt = adam(
            self.model.arch_parameters(), self.device, lr=config.alpha_lr, betas=(0.5, 0.999),
            weight_decay=config.alpha_weight_decay,
        )
        self.monitor = ChangeMonitor(config.tol, config.patience)
        self.calibrated = False
        self.calibration_epochs_run = 0
        self.history: list[EpochRecord] = []
        self.converged = False
        self.seconds = 0.0

    @property
    def epoch(self) -> int:
        return len(self.history)

    def _noise_seed(self) -> int:
        return int(self.rng.integers(2**62))

    @property
    def warming_up(self) -> bool:
        return self.epoch < self.config.warmup_epochs

    @property
    def calibrating(self) -> bool:
        """After the warm-up, until each op's description length per weight has settled
        (or ``calibration_epochs`` have passed): weights, σ and prior train at full λ,
        α stays frozen."""
        return (self.config.bayes.variational and (self.config.lam > 0 or bool(self.family))
                and not self.warming_up and not self.calibrated
                and self.calibration_epochs_run < self.calibration_limit)

    @property
    def calibration_limit(self) -> int:
        """``calibration_epochs``, but at most half of the epochs after the warm-up, so that
        a short search (``--epochs 4``) still leaves α half of its epochs to move."""
        cfg = self.config
        return min(cfg.calibration_epochs, max(0, cfg.epoch_limit - cfg.warmup_epochs) // 2)

    @property
    def arch_frozen(self) -> bool:
        return self.warming_up or self.calibrating

    @property
    def phase(self) -> str:
        return "warmup" if self.warming_up else "calibration" if self.calibrating else "search"

    @property
    def lam(self) -> float:
        """The complexity weight of the current epoch (it ramps up during warm-up); in a
        family, that of the middle of the range, where epochs are judged."""
        return lam_in_epoch(self.config, self.epoch + 1, self.lam_at(MIDDLE))

    def lam_at(self, position: float) -> float:
        """λ at ``position`` of the family's range (the single λ outside a family)."""
        return lam_at(position, self.family) if self.family else self.config.lam

    def _draw_lam(self) -> tuple[float, float]:
        """A family's λ for one step, log-uniform over the range, and the step's share
        (:meth:`_share`); α moves to it. The λ ramps up during warm-up, its share is that
        of the full λ (the warm-up must not inflate the share by up to 1 + λ_middle)."""
        position = float(self.lam_rng.random())
        self.model.position = self._place(position)
        full = self.lam_at(position)
        return lam_in_epoch(self.config, self.epoch + 1, full), self._share(full)

    def _share(self, lam: float) -> float:
        """How much a family's step at ``lam`` weighs: 1 unless balanced, then
        ``(1 + λ_middle) / (1 + λ)``. The free energy's gradients grow about like ``1 + λ``,
        and the knots of α and the weights are shared by the whole range: raw, the steps at
        the top of a range of three decades outweigh those at its bottom a hundredfold, in
        Adam's moments too. 1 over a one-point range (λ is its middle). The weight step's
        gradient clipping and α's weight decay act on the scaled gradients: a clipped step
        or the decay weigh relatively more at the top of the range."""
        if not self.family or self.config.family_balance == "raw":
            return 1.0
        return (1.0 + self.lam_at(MIDDLE)) / (1.0 + lam)

    def _place(self, position: float) -> float:
        """Where α is read for ``position``: 0 over a one-point range, whose λ is one."""
        return 0.0 if self.family and self.family[0] == self.family[1] else position

    @property
    def tau(self) -> float:
        """The temperature of sampled paths in the current epoch: from ``tau_start`` when α
        starts moving to ``tau_end`` at the last epoch the search may run."""
        cfg = self.config
        moved = sum(1 for r in self.history if r.phase == "search")
        span = cfg.epoch_limit - (self.epoch - moved)  # epochs α had when it started moving
        return temperature(cfg.tau_start, cfg.tau_end, moved / max(span - 1, 1))

    def step(self, train_batch: tuple[torch.Tensor, torch.Tensor],
             val_batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
        """One architecture step and one weight step, what an epoch repeats (public for
        ``mdlnas bench``); returns the weight step's loss and NLL."""
        return self._step(train_batch, val_batch)

    def _step(self, train_batch: tuple[torch.Tensor, torch.Tensor],
              val_batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
        moves_alpha = not self.arch_frozen
        lam, share = self._draw_lam() if self.family else (self.lam, 1.0)
        loss, nll = bilevel_step(
            self.model, self.w_opt, self.a_opt, self._objectives(train_batch, val_batch, lam),
            xi=self.config.xi, grad_clip=self.config.grad_clip, move_alpha=moves_alpha,
            hypergradient=self.computation.hypergradient, parallel=self.parallel,
            share=share,
        )
        if moves_alpha and not all(bool(torch.isfinite(a).all())
                                   for a in self.model.arch_parameters()):
            raise SearchError(
                f"the architecture parameters α became NaN or infinite in epoch "
                f"{self.epoch + 1}; likely causes: too large a ξ or --alpha-lr, or "
                "unscaled input data"
            )
        if not math.isfinite(loss):
            raise SearchError(
                f"the training loss became {loss} in epoch {self.epoch + 1}; "
                "likely causes: a learning rate too high (lower --w-lr / --alpha-lr), "
                "too large a ξ, or unscaled input data"
            )
        return loss, nll

    def _objectives(self, train_batch: tuple[torch.Tensor, torch.Tensor],
                    val_batch: tuple[torch.Tensor, torch.Tensor], lam: float) -> Objectives:
        """The step's objectives on this rank's rows of each batch (all of them for one
        process): one noise stream per batch, shared by all of the hypergradient's
        evaluations (common random numbers), and a fresh one for the weight step."""
        train_seed, val_seed, weight_seed = (self._noise_seed() for _ in range(3))
        train_part = self.parallel.shard(len(train_batch[0]))
        val_part = self.parallel.shard(len(val_batch[0]))
        settings: dict[str, Any] = {
            "lam": lam, "m": self.m,
            "description_length": self.computation.description_length,
        }
        # the architecture step's objectives draw several paths (reinforce); the weights
        # train on one, as with gumbel. F_train enters only the second-order term (the
        # unrolled step and ∇²_{α,w}), a correction to the first-order gradient: two paths,
        # the fewest a leave-one-out baseline takes, keep it unbiased at half the cost of
        # differentiating four twice.
        paths = self.config.paths if self.config.relaxation == "reinforce" else 1
        f_train = BatchObjective(self.model, *train_batch, noise_seed=train_seed,
                                 shard=train_part, paths=min(paths, 2), **settings)
        f_val = BatchObjective(self.model, *val_batch, noise_seed=val_seed, shard=val_part,
                               paths=paths, **settings)
        f_weights = BatchObjective(self.model, *train_batch, noise_seed=weight_seed,
                                   shard=train_part, **settings)
        if self.config.weight_paths == "uniform" and self.config.relaxation != "softmax":
            return Objectives(f_train, f_val, weights=self._uniformly(f_weights.energy))
        return Objectives(f_train, f_val, weights=f_weights.energy)

    def _uniformly(self, energy: Callable[[], FreeEnergy]) -> Callable[[], FreeEnergy]:
        """``energy`` on a path drawn uniformly (``--weight-paths uniform``)."""
        def run() -> FreeEnergy:
            with self.model.uniform_paths():
                return energy()
        return run

    def run_epoch(self) -> EpochRecord:
        start = time.perf_counter()
        model = self.model
        model.train()
        model.tau = self.tau
        phase = self.phase
        before_w, before_a = flatten(model.weight_means()), flatten(model.arch_parameters())
        val_batches = cycle(self.val_split, self.batch_size, self.rng, self.min_rows)
        losses, nlls = [], []
        for train_batch in self.train_split.batches(self.batch_size, self.rng, self.min_rows):
            loss, nll = self._step(train_batch, next(val_batches))
            losses.append(loss)
            nlls.append(nll)
        self.parallel.average_buffers(model)  # each rank's BatchNorm saw only its shards
        self.parallel.check_lockstep(self.epoch + 1, list(model.parameters()))
        # the stopping rule watches the weights' means: their widths ρ are on a log scale
        # and, far larger in norm, would hide how much the weights themselves still move
        w_change = relative_change(before_w, flatten(model.weight_means()))
        a_change = relative_change(before_a, flatten(model.arch_parameters()))
        lam = self.lam
        model.position = self._place(MIDDLE)
        dl_per_weight = model.description_length_per_weight()
        if phase == "search":  # α is frozen before: nothing to judge yet
            self.converged = self.monitor.update(w_change, a_change)
        elif phase == "calibration":
            self.calibration_epochs_run += 1
            # compared with calibration epochs only: the warm-up ran at a smaller λ
            last = self.history[-1] if self.history else None
            previous = last.dl_per_weight if last and last.phase == "calibration" else {}
            self.calibrated = settled(previous, dl_per_weight, self.config.calibration_tol)
        val = self._validate()
        dl = self.description_length_bits()
        record = EpochRecord(
            epoch=self.epoch + 1,
            train_loss=float(np.mean(losses)),
            train_nll=float(np.mean(nlls)),
            val_loss=val.nll + lam * dl * LN2 / self.m,
            val_nll=val.nll,
            val_metric=val.metric,
            description_length_bits=dl,
            alpha_entropy=alpha_entropy(model.mixing_weights()),
            weight_change=w_change,
            alpha_change=a_change,
            seconds=time.perf_counter() - start,
            phase=phase,
            dl_per_weight=dl_per_weight,
        )
        self.seconds += record.seconds
        self.history.append(record)
        return record

    def _validate(self) -> Any:
        y_std = self.data.scaling.y_std if self.data.scaling is not None else 1.0
        return score(self.model, self.val_split, self.data.task, y_std)

    def description_length_bits(self) -> float:
        with torch.no_grad():
            return float(self.model.description_length()) / LN2

    def gammas(self, position: float = MIDDLE) -> dict[str, np.ndarray]:
        """softmax(α) per cell type; in a family, at ``position`` of the range."""
        with self.at(position):
            return {k: v.detach().cpu().numpy() for k, v in self.model.mixing_weights().items()}

    @contextlib.contextmanager
    def at(self, position: float) -> Iterator[None]:
        """The supernet with the α of ``position`` of a family's range."""
        before = self.model.position
        self.model.position = self._place(position)
        try:
            yield
        finally:
            self.model.position = before

    def genotype(self, position: float = MIDDLE) -> Genotype:
        """The derived architecture; in a family, that of ``position`` of the range."""
        cfg, data = self.config, self.data
        return derive_genotype(
            self.gammas(position), self.space, data.task, data.input_shape, data.output_dim,
            rule=cfg.derive, top_k=cfg.darts_top_k,
        )

    def validate_at(self, position: float) -> Any:
        """The supernet's scores on the validation part with the α of ``position``."""
        with self.at(position):
            return self._validate()

    def result(self) -> SearchResult:
        val = self._validate()
        return SearchResult(
            genotype=self.genotype(),
            gammas=self.gammas(),
            history=tuple(self.history),
            converged=self.converged,
            epochs_run=self.epoch,
            search_seconds=self.seconds,
            supernet_params=count_weights(self.model),
            description_length_bits=self.description_length_bits(),
            val_metric=val.metric,
            metric_name=val.metric_name,
        )

    @property
    def finished(self) -> bool:
        return self.converged or self.epoch >= self.config.epoch_limit

    # -- checkpoints: everything that decides the rest of the search ---------------------
    def state_dict(self) -> dict[str, Any]:
        """The state at an epoch boundary; restoring it continues bit for bit on the CPU."""
        return {
            "model": self.model.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "lam_rng": self.lam_rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "monitor": self.monitor.state_dict(),
            "calibration": {"done": self.calibrated, "epochs": self.calibration_epochs_run},
            "history": [r.to_dict() for r in self.history],
            "converged": self.converged,
            "seconds": self.seconds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.rng.bit_generator.state = state["numpy_rng"]
        if "lam_rng" in state:  # checkpoints from before families had none
            self.lam_rng.bit_generator.state = state["lam_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.monitor.load_state_dict(state["monitor"])
        # a checkpoint from before calibration existed: its α was already moving
        calibration = state.get("calibration", {"done": True, "epochs": 0})
        self.calibrated = bool(calibration["done"])
        self.calibration_epochs_run = int(calibration["epochs"])
        self.history = [EpochRecord(**row) for row in state["history"]]
        self.converged = bool(state["converged"])
        self.seconds = float(state["seconds"])


def search(
    data: DataBundle,
    space: SpaceConfig,
    config: SearchConfig,
    callbacks: Sequence[EpochCallback] = (),
) -> SearchResult:
    """Run the bilevel search until the weights stop changing (or ``max_epochs``) and
    return the derived genotype with the history. ``data`` is not modified."""
    state = BilevelSearch(data, space, config)
    while not state.finished:
        record = state.run_epoch()
        for callback in callbacks:
            callback(record, state)
    return state.result()

