"""Scoring a candidate genotype, the same way for every discrete strategy.

Two evaluators:

- **weight sharing** (``shared``): one supernet for the whole search; a candidate is its
  discrete path through it (:meth:`Supernet.forward_path`), trained for ``shared_steps``
  mini-batches on the shared weights and then scored on the validation part. This is how
  ENAS and random search with weight sharing make thousands of candidates affordable.
- **full training** (``full``): a fresh network of the candidate, trained from scratch for
  ``full_epochs`` epochs (the same routine as the final retraining) and scored on the
  validation part, as evolution and BlockQNN did with their (early-stopped) trainings.

The objective every strategy minimises is selectable: ``metric`` (classification error
``1 − accuracy``, or RMSE), ``nll`` (mean NLL per validation example) or ``mdl``
(``val NLL + λ · DL / m``, the description-length-aware objective of the seed, with
variational weights so that DL is their KL to the prior), so any strategy can search
for optimal complexity.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, TrainConfig, batch_size_for
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, SearchError
from mdlnas.search.batches import cycle, to_tensors
from mdlnas.search.evaluation import Scores, score
from mdlnas.search.method import free_energy
from mdlnas.search.objectives import mean_nll
from mdlnas.space.genotype import Genotype
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import optimizer_groups
from mdlnas.strategies.problem import Problem
from mdlnas.train.retrain import retrain

LN2 = math.log(2.0)
EvaluatorKind = Literal["shared", "full"]
ObjectiveName = Literal["metric", "nll", "mdl"]
EVALUATOR_KINDS: tuple[EvaluatorKind, ...] = ("shared", "full")
OBJECTIVES: tuple[ObjectiveName, ...] = ("metric", "nll", "mdl")

# Largest automatic batch sizes and the gradient clip: the search's and the retraining's.
SHARED_LARGEST_BATCH = 128
FULL_LARGEST_BATCH = 64
GRAD_CLIP = 5.0


@dataclass(frozen=True)
class EvaluatorConfig:
    """How candidates are scored (see the module docstring).

    ``lam`` weighs the description length in the ``mdl`` objective; ``bayes`` describes the
    weights for that objective (its ``variational`` flag is set by the objective: only
    ``mdl`` needs variational weights, the others train point weights as the papers did).
    ``lr`` and ``batch_size`` (None: chosen from the data) apply to both evaluators.
    """

    kind: EvaluatorKind = "shared"
    objective: ObjectiveName = "metric"
    lam: float = 1.0
    shared_steps: int = 10
    full_epochs: int = 5
    lr: float = 3e-3
    batch_size: int | None = None
    device: str = "auto"
    bayes: BayesConfig = field(default_factory=BayesConfig)

    def __post_init__(self) -> None:
        if self.kind not in EVALUATOR_KINDS:
            raise ConfigError(f"evaluator must be one of {', '.join(EVALUATOR_KINDS)}, "
                              f"got {self.kind!r}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                              f"got {self.objective!r}")
        if not self.lam >= 0:
            raise ConfigError(f"lam must be zero or positive, got {self.lam}")
        if not self.lr > 0:
            raise ConfigError(f"the evaluator's learning rate must be positive, got {self.lr}")
        for name in ("shared_steps", "full_epochs", "batch_size"):
            value = getattr(self, name)
            if value is None and name == "batch_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")

    @property
    def weights(self) -> BayesConfig:
        """How candidate weights are described: variational exactly for ``mdl``."""
        return replace(self.bayes, variational=self.objective == "mdl")


@dataclass(frozen=True)
class Evaluation:
    """A candidate's validation scores; ``objective`` is what strategies minimise."""

    objective: float
    val_nll: float
    val_metric: float
    metric_name: str
    description_length_bits: float


def objective_value(
    objective: ObjectiveName, scores: Scores, dl_nats: float, lam: float, m: int
) -> float:
    """The number a strategy minimises, from validation scores and the description length."""
    if objective == "metric":
        return 1.0 - scores.metric if scores.metric_name == "accuracy" else scores.metric
    if objective == "nll":
        return scores.nll
    return scores.nll + lam * dl_nats / m


def weight_steps_per_evaluation(config: EvaluatorConfig, m: int) -> int:
    """Mini-batch weight updates one evaluation costs on ``m`` training examples: what an
    evaluation budget is worth to the bilevel searches, which have no candidates."""
    if config.kind == "shared":
        return config.shared_steps
    batch = batch_size_for(config.batch_size, m, largest=FULL_LARGEST_BATCH)
    return config.full_epochs * math.ceil(m / batch)


class Evaluator(ABC):
    """Scores candidates of one problem; ``evaluations`` counts what the budget charges.
    ``can_rescore``: whether it keeps trained weights that candidates can be ranked with
    again at the end of a search (weight sharing)."""

    can_rescore: ClassVar[bool] = False

    def __init__(self, config: EvaluatorConfig, problem: Problem) -> None:
        self.config, self.problem = config, problem
        self.device = resolve_device(config.device)
        data = problem.data
        self.val = to_tensors(data.val, self.device)
        self.m = len(data.train)
        self.y_std = data.scaling.y_std if data.scaling is not None else 1.0
        self.evaluations = 0

    @abstractmethod
    def _evaluate(self, genotype: Genotype) -> Evaluation:
        """Train ``genotype`` (however this evaluator does) and score it."""

    def evaluate(self, genotype: Genotype) -> Evaluation:
        self.evaluations += 1
        return self._evaluate(genotype)

    def rescore(self, genotype: Genotype) -> Evaluation:
        """Score without any further training, with the weights the search has trained so
        far (only where ``can_rescore``). Not charged to the budget: it is inference."""
        raise SearchError(
            f"the {self.config.kind!r} evaluator keeps no trained weights to rescore with"
        )

    def _evaluation(self, scores: Scores, dl_nats: float) -> Evaluation:
        cfg = self.config
        return Evaluation(
            objective=objective_value(cfg.objective, scores, dl_nats, cfg.lam, self.m),
            val_nll=scores.nll,
            val_metric=scores.metric,
            metric_name=scores.metric_name,
            description_length_bits=dl_nats / LN2,
        )


class PathNetwork(nn.Module):
    """A genotype's path through a supernet, as a network :func:`score` can run."""

    def __init__(self, supernet: Supernet, genotype: Genotype) -> None:
        super().__init__()
        self.supernet, self.genotype = supernet, genotype

    @property
    def log_noise(self) -> Tensor | None:
        return self.supernet.log_noise

    def forward(self, x: Tensor) -> Tensor:
        return self.supernet.forward_path(x, self.genotype)


class SharedWeightsEvaluator(Evaluator):
    """Weight sharing: every candidate trains and is scored on one supernet's weights."""

    can_rescore = True

    def __init__(self, config: EvaluatorConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        data = problem.data
        torch.manual_seed(problem.seed)
        self.supernet = Supernet(
            problem.space, data.input_shape, data.output_dim, data.task, config.weights
        ).to(self.device)
        train = to_tensors(data.train, self.device)
        if len(train) < 2:
            raise SearchError("weight sharing needs at least 2 training examples")
        self.batch_size = batch_size_for(config.batch_size, self.m, largest=SHARED_LARGEST_BATCH)
        # One endless stream of batches: successive candidates continue through the data.
        self.batches = cycle(train, self.batch_size, np.random.default_rng(problem.seed))
        weights = self.supernet.weight_parameters()
        self.optimizer = torch.optim.Adam(
            optimizer_groups(self.supernet, weights, config.lr, config.bayes.sigma_lr)
        )

    def train_path(self, genotype: Genotype, steps: int) -> None:
        """``steps`` mini-batch updates of the shared weights on ``genotype``'s path only
        (ops off the path get no gradient, so Adam leaves them as they are)."""
        net, cfg = self.supernet, self.config
        net.train()
        for _ in range(steps):
            x, y = next(self.batches)
            nll = mean_nll(net.forward_path(x, genotype), y, net.task, net.log_noise)
            dl = net.path_description_length(genotype) if cfg.objective == "mdl" else None
            loss = nll if dl is None else free_energy(nll, dl, cfg.lam, self.m).total
            if not torch.isfinite(loss):
                raise SearchError(
                    f"the shared weights' training loss became {float(loss.detach())}; "
                    "lower the evaluator's learning rate or check the data's scaling"
                )
            self.optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(net.weight_parameters(), GRAD_CLIP)
            self.optimizer.step()

    def _evaluate(self, genotype: Genotype) -> Evaluation:
        self.train_path(genotype, self.config.shared_steps)
        return self.rescore(genotype)

    def rescore(self, genotype: Genotype) -> Evaluation:
        task = self.problem.data.task
        scores = score(PathNetwork(self.supernet, genotype), self.val, task, self.y_std)
        with torch.no_grad():
            dl = float(self.supernet.path_description_length(genotype))
        return self._evaluation(scores, dl)


class FullTrainingEvaluator(Evaluator):
    """Every candidate is trained from scratch (as the final network will be) and scored."""

    def __init__(self, config: EvaluatorConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        self.train_config = TrainConfig(
            epochs=config.full_epochs,
            batch_size=batch_size_for(config.batch_size, self.m, largest=FULL_LARGEST_BATCH),
            lr=config.lr,
            lam=config.lam if config.objective == "mdl" else 0.0,
            seed=problem.seed,
            device=config.device,
            bayes=config.weights,
        )

    def _evaluate(self, genotype: Genotype) -> Evaluation:
        trained = retrain(genotype, self.problem.data, self.train_config).model
        scores = score(trained, self.val, self.problem.data.task, self.y_std)
        with torch.no_grad():
            dl = float(trained.description_length())
        return self._evaluation(scores, dl)


def make_evaluator(config: EvaluatorConfig, problem: Problem) -> Evaluator:
    if config.kind == "shared":
        return SharedWeightsEvaluator(config, problem)
    return FullTrainingEvaluator(config, problem)
