"""The method in one file, in the seed's order (Gridasov, Bakhteev, Strijov 2019).

    1. free energy           F = E_Q[NLL] / n + λ · DL(β, α) / m       (n: the batch, m: |D_train|)
    2. description length    DL = KL(direct) + P(connected) · KL(frame) + Σ_e Σ_o γ_e,o · KL_e,o
    3. ξ-hypergradient       g = ∇_α F_val(w', α) − ξ ∇²_{α,w} F_train(w, α) · ∇_w' F_val(w', α),
                             w' = w − ξ ∇_w F_train(w, α)
    4. bilevel step          architecture step (α along g, D_val), then weight step (β, D_train)
    5. stopping rule         "while the weights change": both relative changes below tol
    6. derivation            γ → a discrete genotype (an edge goes when γ_zero ≥ ½)

What is written here is the plain reference. The search runs two faster versions, tested equal
to these (tests/search/test_method.py): the description length fused into a few tensor
operations (``Supernet.description_length``, :mod:`mdlnas.space.description`) and the
hypergradient with a recorded double backward (:mod:`mdlnas.search.hypergradient`,
:mod:`mdlnas.space.twice`). :class:`~mdlnas.search.darts.BilevelSearch` holds the state and
the plumbing: noise seeds, this rank's rows of each batch, the checks for NaN. Data
parallelism enters a step as an argument (``parallel``), one process by default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from mdlnas.config import DeriveRule, SpaceConfig, Task
from mdlnas.distributed import OneProcess
from mdlnas.errors import ConfigError, GenotypeError
from mdlnas.search.objectives import mean_nll
from mdlnas.space.cell import SearchCell, cell_edges
from mdlnas.space.genotype import CELL_TYPES, CellGenotype, Edge, Genotype
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import total_kl

ONE_PROCESS = OneProcess()
Objective = Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]  # F(w, α), noise fixed
Reduce = Callable[[Sequence[Tensor]], list[Tensor]]  # one process's gradients → the batch's
DescriptionLength = Callable[[Supernet], Tensor]


# -- 1. free energy ------------------------------------------------------------------------
@dataclass(frozen=True)
class FreeEnergy:
    """One evaluation of an objective and its parts, in nats."""

    total: Tensor  # nll + λ · dl / m
    nll: Tensor  # mean NLL per example of the batch
    dl: Tensor  # description length of the network


def free_energy(nll: Tensor, dl: Tensor, lam: float, m: int) -> FreeEnergy:
    """``F = NLL + λ · DL / m``: λ = 1 is the seed's variational free energy, λ = 0 DARTS.
    ``m`` is always the size of D_train, in F_train and F_val alike, so the complexity term
    means "nats of description per training example" in both."""
    return FreeEnergy(nll + (lam / m) * dl, nll, dl)


def batch_free_energy(model: Supernet, x: Tensor, y: Tensor, *, lam: float, m: int,
                      nll_weight: float = 1.0,
                      description_length: DescriptionLength | None = None,
                      paths: int = 1) -> FreeEnergy:
    """``F`` on one batch with the model's current parameters, sampling the weights' noise.
    The batch's mean NLL estimates the expected NLL per example; ``nll_weight`` is a
    data-parallel shard's share of the batch (1 for one process). ``paths`` > 1 draws that
    many architectures (``reinforce``, :func:`sampled_nll`)."""
    if paths > 1:
        nll = sampled_nll(model, x, y, paths)
    else:
        nll = mean_nll(model(x), y, model.task, model.log_noise)  # model(x): (B, output_dim)
    dl = (description_length or expected_description_length)(model)
    return free_energy(nll_weight * nll, dl, lam, m)


def sampled_nll(model: Supernet, x: Tensor, y: Tensor, paths: int) -> Tensor:
    """``E_path[NLL]`` over ``paths`` architectures drawn from softmax(α), with the
    score-function α-gradient ``(1/K) Σ_k (NLL_k − b_k) ∇_α log p(path_k)``, ``b_k`` the
    mean NLL of the other paths (leave-one-out: unbiased, since ``b_k`` does not depend on
    path ``k``). Its value and its weight-gradient are the paths' mean; the advantages are
    not detached from the weights, so the mixed derivative ``∇²_{α,w}`` of the
    ξ-hypergradient is the score-function estimate of the same expectation."""
    nlls, log_probs = [], []
    for _ in range(paths):
        nlls.append(mean_nll(model(x), y, model.task, model.log_noise))
        assert model.drawn_log_prob is not None  # set by a training pass with sampled paths
        log_probs.append(model.drawn_log_prob)
    nll, log_prob = torch.stack(nlls), torch.stack(log_probs)  # (paths,) each
    advantage = nll - (nll.sum() - nll) / (paths - 1)
    # log_prob − log_prob.detach() is 0 in value and ∇_α log p in gradient
    return nll.mean() + (advantage * (log_prob - log_prob.detach())).mean()


# -- 2. expected description length ---------------------------------------------------------
def expected_description_length(model: Supernet) -> Tensor:
    """``DL(β, α)`` in nats, term by term. The architecture picks op ``o`` on edge ``e`` with
    probability ``γ_e,o`` and an op that is not picked costs nothing to describe, so each op's
    ``KL(Q(w) ‖ P(w))`` is weighed by its γ (``zero`` and the parameter-free ops cost 0). In a
    space with a direct path the frame (stem, transitions, head) exists only when the cell's
    output is connected, each edge present with probability ``1 − γ_zero``."""
    gammas = model.mixing_weights()
    total = model.direct_kl() + model.deep_probability(gammas) * model.fixed_kl()
    for cell, (_, reduction) in zip(model.cells, model.plan, strict=True):
        assert isinstance(cell, SearchCell)
        gamma = gammas["reduce" if reduction else "normal"]  # (n_edges, n_ops)
        for edge, mixed in enumerate(cell.mixed_ops()):
            for op_index, op in zip(mixed.active, mixed.ops, strict=True):  # zero is not built
                # (times the op's width over its copy's with partial channels, else 1)
                total = total + gamma[edge, op_index] * mixed.dl_scale(op_index) * total_kl(op)
    return total


# -- 3. the ξ-hypergradient (seed eq. 5–6) ---------------------------------------------------
def gradient(output: Tensor, inputs: Sequence[Tensor], create_graph: bool = False) -> list[Tensor]:
    """``∂ output / ∂ inputs``, zeros for an input that ``output`` does not depend on."""
    grads = torch.autograd.grad(output, list(inputs), create_graph=create_graph,
                                allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)]


def leaves(tensors: Sequence[Tensor]) -> list[Tensor]:
    """Fresh leaves to differentiate by, so the caller's parameters collect no gradient."""
    return [t.detach().requires_grad_(True) for t in tensors]


def hypergradient(f_train: Objective, f_val: Objective, weights: Sequence[Tensor],
                  alphas: Sequence[Tensor], xi: float,
                  reduce: Reduce = ONE_PROCESS.average) -> list[Tensor]:
    """``∇_α F_val(w − ξ ∇_w F_train(w, α), α)`` by plain double backward; first order when
    ``ξ = 0``. The objectives must fix their noise inside (common random numbers): otherwise
    the second-order term would measure noise, not curvature. ``reduce`` averages over the
    ranks wherever the batch's gradient is used as a value (the unrolled step and ``v`` are
    non-linear in it); the mixed term is linear in the training batch and reduced once."""
    w, a = leaves(weights), leaves(alphas)
    if xi == 0:
        return reduce(gradient(f_val(w, a), a))
    train_grads = gradient(f_train(w, a), w, create_graph=True)  # ∇_w F_train, differentiable
    step = reduce([g.detach() for g in train_grads])
    w_prime = leaves([wi - xi * gi for wi, gi in zip(w, step, strict=True)])  # unrolled weights
    val_grads = reduce(gradient(f_val(w_prime, a), [*w_prime, *a]))
    v, direct = val_grads[: len(w)], val_grads[len(w) :]  # ∇_w' F_val(w', α), ∇_α F_val(w', α)
    # mixed term ∇²_{α,w} F_train · v: the α-gradient of the inner product ⟨∇_w F_train, v⟩
    inner = torch.stack([(g * vi).sum() for g, vi in zip(train_grads, v, strict=True)]).sum()
    mixed = reduce(gradient(inner, a))
    return [d - xi * mi for d, mi in zip(direct, mixed, strict=True)]


class HyperGradient(Protocol):
    """:func:`hypergradient`'s signature, which the fast path shares."""

    def __call__(self, f_train: Objective, f_val: Objective, weights: Sequence[Tensor],
                 alphas: Sequence[Tensor], xi: float, *, reduce: Reduce = ...,
                 ) -> list[Tensor]: ...


# -- 4. the bilevel step ---------------------------------------------------------------------
@dataclass(frozen=True)
class Objectives:
    """One step's objectives, each with its noise stream fixed (and, under torchrun, on this
    rank's rows): ``train`` and ``val`` are what the hypergradient evaluates repeatedly,
    ``weights`` is ``F_train(β, α)`` with a fresh noise sample for the weight step."""

    train: Objective
    val: Objective
    weights: Callable[[], FreeEnergy]


def bilevel_step(model: Supernet, w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer,
                 f: Objectives, *, xi: float, grad_clip: float, move_alpha: bool = True,
                 hypergradient: HyperGradient = hypergradient,
                 parallel: OneProcess = ONE_PROCESS, share: float = 1.0) -> tuple[float, float]:
    """One round of the seed's loop; returns the weight step's F and NLL on the whole batch.
    ``move_alpha=False`` while the weights are warmed up and calibrated (α frozen).
    ``share`` scales both steps' gradients: a family's weighing of its λ against the others
    (1 for a single search)."""
    # architecture step
    if move_alpha:
        architecture_step(model, a_opt, f.train, f.val, xi, hypergradient, parallel.average,
                          share)
    # weight step
    return weight_step(model, w_opt, f.weights, grad_clip, parallel, share)


def architecture_step(model: Supernet, optimizer: torch.optim.Optimizer, f_train: Objective,
                      f_val: Objective, xi: float, hypergradient: HyperGradient = hypergradient,
                      reduce: Reduce = ONE_PROCESS.average, share: float = 1.0) -> None:
    """``α ← α − η_α · g`` (Adam over α only). BatchNorm normalises by each batch but keeps
    its running statistics: they belong to the weights' training data, not to validation
    batches or the unrolled weights w'."""
    alphas = model.arch_parameters()
    with model.frozen_statistics():
        grads = hypergradient(f_train, f_val, model.weight_parameters(), alphas, xi,
                              reduce=reduce)
    optimizer.zero_grad(set_to_none=True)
    for a, g in zip(alphas, grads, strict=True):
        a.grad = g.detach() if share == 1.0 else share * g.detach()
    optimizer.step()


def weight_step(model: Supernet, optimizer: torch.optim.Optimizer,
                f_train: Callable[[], FreeEnergy], grad_clip: float,
                parallel: OneProcess = ONE_PROCESS, share: float = 1.0) -> tuple[float, float]:
    """``β ← β − η_β · share · ∇_β F_train(β, α)`` (Adam over the weights only); returns F
    and NLL."""
    weights = model.weight_parameters()
    optimizer.zero_grad(set_to_none=True)
    energy = f_train()
    torch.autograd.backward(energy.total if share == 1.0 else share * energy.total)
    # the loss travels with the gradients: every rank sees the whole batch's loss
    total, nll = parallel.average_gradients(weights, [energy.total, energy.nll])
    torch.nn.utils.clip_grad_norm_(weights, grad_clip)
    optimizer.step()
    return total, nll


# -- 5. the stopping rule ----------------------------------------------------------------------
def flatten(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([t.detach().reshape(-1).float().cpu() for t in tensors])


def relative_change(previous: Tensor, current: Tensor) -> float:
    """``‖θ_t − θ_{t−1}‖ / ‖θ_{t−1}‖``."""
    return float((current - previous).norm() / previous.norm().clamp_min(1e-12))


class ChangeMonitor:
    """"While the weights change", made precise: converged once the relative changes of the
    weights and of α per epoch both stayed below ``tol`` for ``patience`` epochs in a row
    (a maximum number of epochs bounds the search besides)."""

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience
        self.calm_epochs = 0

    def update(self, weight_change: float, alpha_change: float) -> bool:
        calm = weight_change < self.tol and alpha_change < self.tol
        self.calm_epochs = self.calm_epochs + 1 if calm else 0
        return self.calm_epochs >= self.patience

    def state_dict(self) -> dict[str, int]:
        return {"calm_epochs": self.calm_epochs}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.calm_epochs = int(state["calm_epochs"])


# Below this many nats per weight a price counts as nothing: an unneeded op drifts towards
# 0, where a relative change is noise.
SETTLED_FLOOR = 0.05


def settled(previous: dict[str, float], current: dict[str, float], tol: float) -> bool:
    """Calibration (α frozen, weights and σ at the full λ) ends when every op's description
    length per weight differs from the last epoch's by at most ``tol`` relative to its size
    (at least :data:`SETTLED_FLOOR` nats): each op's price is then what it needs, not its
    initial one."""
    if not current or set(previous) != set(current):
        return not current  # nothing to calibrate (point weights) is settled at once
    return all(abs(current[k] - previous[k]) <= tol * max(abs(previous[k]), SETTLED_FLOOR)
               for k in current)


# -- 6. the derivation -----------------------------------------------------------------------
def derive_cell(
    gamma: np.ndarray, ops: Sequence[str], n_nodes: int, rule: DeriveRule = "mdl", top_k: int = 2,
    allow_empty: bool = False,
) -> CellGenotype:
    """Discretise one cell's mixing weights ``gamma`` (``(n_edges, n_ops)``).

    ``mdl``: γ is a distribution over architectures in which an edge is absent with
    probability ``γ_zero``. An edge that is more likely absent than present
    (``γ_zero ≥ ½``) disappears: it does not pay for its description length; every other
    edge keeps its most probable non-zero op. (The argmax over all ops, ``zero`` included,
    drops an edge whose non-zero mass is spread over several similar ops: on MNIST-1D it
    cut every edge of a normal cell whose γ_zero was 0.23-0.29.) A node whose inputs all
    disappeared but whose own outgoing edges stayed is fed by its strongest non-zero input:
    in the supernet it still carried a small signal, which the ops after it (each ending in
    BatchNorm) rescaled and used. Nodes left without inputs, or without a path to the
    output, are removed; if the output would be disconnected, the cell is empty when
    ``allow_empty`` (a space with a direct path: the linear model), else the strongest
    non-zero edge into it from a live node is kept.
    ``darts``: every node keeps its ``top_k`` incoming edges ranked by their strongest
    non-zero op, each with that op (Liu et al. 2019).
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    edges = cell_edges(n_nodes)
    if gamma.shape != (len(edges), len(ops)):
        raise GenotypeError(
            f"mixing weights have shape {gamma.shape}, expected {(len(edges), len(ops))}"
        )
    nonzero = [i for i, name in enumerate(ops) if name != "zero"]

    def best_nonzero(k: int) -> tuple[float, str]:
        i = max(nonzero, key=lambda j: gamma[k, j])
        return float(gamma[k, i]), ops[i]

    def strongest_into(node: int, sources: set[int]) -> tuple[tuple[int, int], str]:
        k = max((k for k, (s, d) in enumerate(edges) if d == node and s in sources),
                key=lambda k: best_nonzero(k)[0])
        return edges[k], best_nonzero(k)[1]

    if rule == "darts":
        chosen: dict[tuple[int, int], str] = {}
        for dst in range(1, n_nodes + 1):
            incoming = sorted((k for k, (_, d) in enumerate(edges) if d == dst),
                              key=lambda k: -best_nonzero(k)[0])
            chosen.update({edges[k]: best_nonzero(k)[1] for k in incoming[:top_k]})
        # The cell's output is its last node, so a node with no path to it is dead weight.
        return _cell(_prune(chosen, n_nodes), n_nodes)
    if rule != "mdl":
        raise ConfigError(f"derive rule must be 'mdl' or 'darts', got {rule!r}")

    absent = ops.index("zero") if "zero" in ops else None
    present = {edge: best_nonzero(k)[1] for k, edge in enumerate(edges)
               if absent is None or gamma[k, absent] < 0.5}
    fed = {0}
    for node in range(1, n_nodes + 1):  # edges go forward: one sweep in node order
        starved = not any(s in fed for s, d in present if d == node)
        if starved and any(s == node for s, _ in present):  # yet chosen after: feed it
            edge, op = strongest_into(node, fed)
            present[edge], starved = op, False
        if not starved:
            fed.add(node)
    kept = _prune(present, n_nodes)
    if not any(d == n_nodes for _, d in kept) and not allow_empty:
        # Keep the output connected: the strongest non-zero edge from a node fed by the
        # unpruned edges (pruning has dropped every node, since none reaches the output).
        edge, op = strongest_into(n_nodes, _fed(present, n_nodes))
        present[edge] = op
        kept = _prune(present, n_nodes)
    return _cell(kept, n_nodes)


def _cell(edges: dict[tuple[int, int], str], n_nodes: int) -> CellGenotype:
    ordered = sorted(edges.items(), key=lambda item: (item[0][1], item[0][0]))
    return CellGenotype(n_nodes, tuple(Edge(s, d, op) for (s, d), op in ordered))


def _fed(edges: Mapping[tuple[int, int], str], n_nodes: int) -> set[int]:
    """Nodes reachable from the input (node 0) along ``edges``."""
    fed = {0}
    for dst in range(1, n_nodes + 1):  # edges go forward, so one sweep settles it
        if any(s in fed for s, d in edges if d == dst):
            fed.add(dst)
    return fed


def _prune(edges: dict[tuple[int, int], str], n_nodes: int) -> dict[tuple[int, int], str]:
    """Drop edges out of nodes with no input and into nodes with no path to the output."""
    fed = _fed(edges, n_nodes)
    useful = {n_nodes}
    for src in range(n_nodes - 1, -1, -1):
        if any(d in useful for s, d in edges if s == src):
            useful.add(src)
    return {(s, d): op for (s, d), op in edges.items() if s in fed and d in useful}


def derive_genotype(
    gammas: Mapping[str, np.ndarray], space: SpaceConfig,
    task: Task, input_shape: tuple[int, ...],
    output_dim: int, rule: DeriveRule = "mdl", top_k: int = 2,
) -> Genotype:
    """A genotype from the mixing weights of each cell type (``"normal"``, ``"reduce"``)."""
    cells = {kind: derive_cell(gammas[kind], space.ops, space.n_nodes, rule, top_k,
                               allow_empty=space.direct_path)
             for kind in CELL_TYPES if kind in gammas}
    return Genotype(space, task, tuple(input_shape), output_dim, cells["normal"],
                    cells.get("reduce"))
