"""The supernet: every architecture of a space at once, mixed by α.

Architecture parameters live here and only here (``alpha_normal``, ``alpha_reduce``);
:meth:`Supernet.arch_parameters` and :meth:`Supernet.weight_parameters` partition the
parameters so that α never reaches the weight optimiser.

Weight sharing (ENAS, random search with shared weights) runs one discrete path of the
supernet instead: :meth:`Supernet.forward_path` and :meth:`Supernet.path_description_length`
take a genotype of the same space and use only the ops it names, with the supernet's weights.

A complexity family (``knots`` above 1) makes α a function of the complexity weight:
each cell type holds ``knots`` copies of α, and the α of a pass is the piecewise-linear
interpolation between them at :attr:`Supernet.position`, the place of ``log λ`` in the
family's range (0 at its low end, 1 at its high end; see :func:`interpolate`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn

from mdlnas.config import BayesConfig, FamilyFollow, Relaxation, SpaceConfig, Task
from mdlnas.errors import ConfigError, GenotypeError
from mdlnas.space.cell import SearchCell, cell_edges, connection_probability
from mdlnas.space.description import FusedDescriptionLength, variational_parameters
from mdlnas.space.frame import NetworkFrame
from mdlnas.space.genotype import Genotype
from mdlnas.space.relaxation import (
    SampledPaths,
    draw_paths,
    most_probable_paths,
    sample_paths,
)
from mdlnas.space.variational import total_kl

PathChoices = dict[str, tuple[int | None, ...]]  # cell type -> op index per edge (None: no edge)


def interpolate(alpha: Tensor, position: float) -> Tensor:
    """α at ``position`` ∈ [0, 1] of a family whose ``alpha`` is ``(knots, n_edges, n_ops)``:
    the knots sit evenly on [0, 1] and α is linear between neighbours (a knot's own α at the
    knot). A single α ``(n_edges, n_ops)`` is returned as it is.

    Piecewise-linear rather than one global function of log λ: a step at one λ moves only
    the two knots around it, so the ends of the range do not pull on each other, and with
    ``knots`` = 1 or a one-point range it is the single search's α."""
    if alpha.dim() == 2:
        return alpha
    knots = alpha.shape[0]
    if knots == 1:
        return alpha[0]
    place = min(max(position, 0.0), 1.0) * (knots - 1)
    left = min(int(place), knots - 2)
    right_share = place - left
    if right_share == 0.0:  # exactly on a knot: no gradient to the neighbour
        return alpha[left]
    return (1.0 - right_share) * alpha[left] + right_share * alpha[left + 1]


class Supernet(NetworkFrame):
    def __init__(
        self,
        space: SpaceConfig,
        input_shape: tuple[int, ...],
        output_dim: int,
        task: Task,
        bayes: BayesConfig,
        knots: int = 1,
        follow: FamilyFollow = "none",
        partial: int = 1,
    ) -> None:
        """``knots`` above 1: a complexity family (α a function of :attr:`position`); with
        ``follow`` every weight's ρ (``widths``), or μ and ρ (``weights``), are functions of
        the position too (``VariationalParameter.follow_family``), whatever the knots.
        ``partial`` above 1: each edge's ops see 1/partial of its channels
        (:class:`~mdlnas.space.cell.MixedOp`)."""
        super().__init__(space, input_shape, output_dim, task, bayes)
        if knots < 1:
            raise ConfigError(f"a family needs at least 1 knot, got {knots}")
        widths = sorted({width for width, _ in self.plan})
        if partial > 1 and any(width % partial for width in widths):
            raise ConfigError(
                f"--partial-channels {partial} must divide the width of every cell "
                f"({', '.join(map(str, widths))} channels here); give a divisor of "
                f"{math.gcd(*widths)} or other --channels"
            )
        self.cells = nn.ModuleList(
            SearchCell(space.ops, space.n_nodes, space.dim, width, bayes, reduction, partial)
            for width, reduction in self.plan
        )
        shape = (space.n_edges, len(space.ops))
        # Small random α, as in DARTS: near-uniform mixing with ties broken by chance. A
        # family's knots start equal, from the same draw as one α, so that a family over a
        # one-point range is the single search exactly.
        if follow != "none" and not bayes.variational:
            raise ConfigError(f"--family-follow {follow} needs variational weights (point "
                              "weights have no width to follow); drop --deterministic")
        self._following = variational_parameters(self) if follow != "none" else []
        for param in self._following:
            param.follow_family(means=follow == "weights")
        self.position = 0.0  # where α (and following widths) are read in a family's range

        def initial_alpha() -> nn.Parameter:
            alpha = 1e-3 * torch.randn(shape)
            return nn.Parameter(alpha if knots == 1 else alpha.expand(knots, *shape).clone())

        self.alpha_normal = initial_alpha()
        self.alpha_reduce = initial_alpha() if any(
            reduction for _, reduction in self.plan
        ) else None
        self._fused_dl = self._description_plan()
        # how α mixes the ops of a forward pass (mdlnas.space.relaxation); the search sets
        # them, and τ follows its schedule
        self.relaxation: Relaxation = "softmax"
        self.tau = 1.0
        # with reinforce, log p(path) of the last training pass under softmax(α): the
        # score-function estimate (mdlnas.search.method.sampled_nll) reads it
        self.drawn_log_prob: Tensor | None = None
        self._uniform = False  # inside uniform_paths(): training passes ignore α
        # Parameters are registered once, here; the lists are kept so that a step does not
        # walk the module tree again (a tenth of a millisecond each time on the MLP space).
        arch = set(self.arch_names())
        named = [(n, p) for n, p in self.named_parameters() if n not in arch]
        self._weight_names = [n for n, _ in named]
        self._weights = [p for _, p in named]
        # every BatchNorm, for :meth:`frozen_statistics` (called at every architecture step)
        self._norms = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        # name -> (module, attribute) of every parameter, for :meth:`substituted`
        self._slots: dict[str, tuple[nn.Module, str]] = {}
        for module_name, module in self.named_modules():
            for attr in module._parameters:
                self._slots[f"{module_name}.{attr}" if module_name else attr] = (module, attr)

    @property
    def position(self) -> float:
        """Where in a family's range this pass is (0 at its low end, 1 at its high end)."""
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        self._position = value
        for param in self._following:
            param.position = value

    # -- parameters --------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        return [a for a in (self.alpha_normal, self.alpha_reduce) if a is not None]

    def arch_names(self) -> list[str]:
        return ["alpha_normal"] + (["alpha_reduce"] if self.alpha_reduce is not None else [])

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self._weights)

    def weight_means(self) -> list[nn.Parameter]:
        """The weights proper: every weight parameter but the posterior widths (ρ and, in a
        family whose widths follow λ, ρ's slope); μ's slope, where it follows, is one."""
        return [p for n, p in zip(self._weight_names, self._weights, strict=True)
                if not n.endswith((".rho", ".rho_slope"))]

    @contextlib.contextmanager
    def uniform_paths(self) -> Iterator[None]:
        """Training passes with sampled paths draw every op of an edge equally often, not
        from softmax(α) (``--weight-paths uniform``, for the weight step)."""
        self._uniform = True
        try:
            yield
        finally:
            self._uniform = False

    @contextlib.contextmanager
    def frozen_statistics(self) -> Iterator[None]:
        """BatchNorm normalises by the batch (as in training) without updating its running
        statistics, for passes that are not weight training: the architecture step's
        validation batches and perturbed weights."""
        norms = [norm for norm in self._norms if norm.track_running_stats]
        for norm in norms:
            norm.track_running_stats = False
        try:
            yield
        finally:
            for norm in norms:
                norm.track_running_stats = True

    def weight_names(self) -> list[str]:
        """Names of :meth:`weight_parameters`, in the same order."""
        return list(self._weight_names)

    @contextlib.contextmanager
    def substituted(self, tensors: Mapping[str, Tensor]) -> Iterator[None]:
        """Run with the named parameters replaced by ``tensors`` (what
        ``torch.func.functional_call`` does, for this one module: its generic name handling
        cost about a millisecond per call, a tenth of a DARTS step on the MLP space)."""
        swapped: list[tuple[nn.Module, str, Tensor | None]] = []
        try:
            for name, tensor in tensors.items():
                module, attr = self._slots[name]
                swapped.append((module, attr, module._parameters[attr]))
                module._parameters[attr] = tensor  # type: ignore[assignment]
            yield
        finally:
            for module, attr, original in reversed(swapped):
                module._parameters[attr] = original  # type: ignore[assignment]

    def alphas(self) -> dict[str, Tensor]:
        """α per cell type, ``(n_edges, n_ops)`` each; in a family, at :attr:`position`."""
        out = {"normal": interpolate(self.alpha_normal, self.position)}
        if self.alpha_reduce is not None:
            out["reduce"] = interpolate(self.alpha_reduce, self.position)
        return out

    def mixing_weights(self) -> dict[str, Tensor]:
        """γ = softmax(α) per cell type, ``(n_edges, n_ops)`` each."""
        return {kind: torch.softmax(alpha, dim=-1) for kind, alpha in self.alphas().items()}

    def deep_probability(self, gammas: Mapping[str, Tensor] | None = None) -> Tensor:
        """Probability that the network has its cells (and with them its stem and head):
        that the cell's output is connected, each edge present with probability
        ``1 - γ_zero``. 1 in a space without a direct path, whose networks always do."""
        gammas = gammas if gammas is not None else self.mixing_weights()
        normal = gammas["normal"]
        if not self.space.direct_path or "zero" not in self.space.ops:
            return normal.new_ones(())
        present = 1 - normal[:, self.space.ops.index("zero")]
        return connection_probability(present, self.space.n_nodes)

    # -- model -------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        # per cell type: the mixing weights, and with sampled paths the op of every edge
        mixing: dict[str, tuple[Tensor, tuple[int, ...] | None]]
        if self.relaxation != "softmax":
            paths = self.sampled_paths()
            mixing = {k: (p.weights, p.choices) for k, p in paths.items()}
            drawn = [p.log_prob for p in paths.values() if p.log_prob is not None]
            self.drawn_log_prob = torch.stack(drawn).sum() if drawn else None
        else:
            mixing = {k: (g, None) for k, g in self.mixing_weights().items()}
        h = self.stem(x)  # (B, C, *spatial) or (B, C)
        for transition, cell, (_, reduction) in zip(
            self.transitions, self.cells, self.plan, strict=True
        ):
            weights, choices = mixing["reduce" if reduction else "normal"]
            h = cell(transition(h), weights, choices)
        return self.with_direct(x, self.head(h))  # (B, output_dim)

    def sampled_paths(self) -> dict[str, SampledPaths]:
        """One path per cell type, shared by the cells of that type (they share α): drawn
        in training (straight-through weights for ``gumbel``, none for ``reinforce``;
        uniformly inside :meth:`uniform_paths`), the most probable one in evaluation."""
        alphas = self.alphas()
        if self.training and self._uniform:  # the draw of α = 0: uniform
            alphas = {kind: torch.zeros_like(alpha) for kind, alpha in alphas.items()}
        if self.training and self.relaxation == "reinforce":
            return {kind: draw_paths(alpha) for kind, alpha in alphas.items()}
        if self.training:
            return {kind: sample_paths(alpha, self.tau) for kind, alpha in alphas.items()}
        return {kind: most_probable_paths(alpha) for kind, alpha in alphas.items()}

    def description_length(self) -> Tensor:
        """Expected description length in nats:
        ``KL(direct path) + P(cells) · KL(stem, transitions, head) + Σ_e Σ_o γ_e,o · KL_e,o``
        (without a direct path, ``P(cells)`` is 1), computed fused
        (:mod:`mdlnas.space.description`; the method's reference,
        :func:`mdlnas.search.method.expected_description_length`, is the same sum written
        op by op, and the tests hold the two equal)."""
        gammas = self.mixing_weights()
        parts = [gammas["reduce" if reduction else "normal"].reshape(-1)
                 for _, reduction in self.plan]  # (cells * edges * ops,)
        if self.direct is not None:
            parts.insert(0, self.deep_probability(gammas).reshape(1))
        return self._fused_dl(torch.cat(parts))

    def _description_plan(self) -> FusedDescriptionLength:
        """Which weights each mixing weight γ_(cell, edge, op) pays for. Group 0 is paid
        by every architecture: the frame (stem, transitions, head), or in a space with a
        direct path that path, followed by the frame weighed by :meth:`deep_probability`."""
        assert self.head_linear is not None  # a supernet always has its cells
        frame = (variational_parameters(self.stem) + variational_parameters(self.transitions)
                 + variational_parameters(self.head_linear))
        groups, labels = [frame], ["frame"]
        if self.direct is not None:
            groups, labels = [variational_parameters(self.direct), frame], ["direct", "frame"]
        scales = [1.0] * len(groups)
        for cell, (_, reduction) in zip(self.cells, self.plan, strict=True):
            assert isinstance(cell, SearchCell)
            for mixed in cell.mixed_ops():
                for op_index, op_name in enumerate(self.space.ops):
                    computed = op_index in mixed.active
                    groups.append(variational_parameters(mixed.chosen(op_index))
                                  if computed else [])
                    scales.append(mixed.dl_scale(op_index) if computed else 1.0)
                    labels.append(f"{'reduce' if reduction else 'normal'}:{op_name}")
        return FusedDescriptionLength(groups, self.bayes.prior_std, self.bayes.prior_mean,
                                      labels, scales)

    def description_length_per_weight(self) -> dict[str, float]:
        """Nats per weight of the frame and of each parametric op of each cell type
        (``"normal:conv_3"``), not weighed by γ: what an op would cost if picked."""
        return self._fused_dl.per_weight_by_label()

    # -- one discrete path (weight sharing) --------------------------------------------
    def path(self, genotype: Genotype) -> PathChoices:
        """The op index (into ``space.ops``) of every edge of each cell type of ``genotype``."""
        if genotype.space != self.space:
            raise GenotypeError(
                f"the genotype is of space {genotype.space.name!r} with other settings than "
                f"this supernet's {self.space.name!r}; a path must come from the same space"
            )
        out: PathChoices = {}
        for kind, cell in genotype.cells().items():
            chosen = {(e.src, e.dst): self.space.ops.index(e.op) for e in cell.edges}
            out[kind] = tuple(chosen.get(edge) for edge in cell_edges(cell.n_nodes))
        return out

    def forward_path(self, x: Tensor, genotype: Genotype) -> Tensor:
        """The network of ``genotype`` run on the supernet's shared weights."""
        paths = self.path(genotype)
        if not genotype.deep:
            return self.linear_model(x)
        h = self.stem(x)  # (B, C, *spatial) or (B, C)
        for transition, cell, (_, reduction) in zip(
            self.transitions, self.cells, self.plan, strict=True
        ):
            assert isinstance(cell, SearchCell)
            h = cell.forward_path(transition(h), paths["reduce" if reduction else "normal"])
        return self.with_direct(x, self.head(h))  # (B, output_dim)

    def path_description_length(self, genotype: Genotype) -> Tensor:
        """Description length (nats) of the path's weights: the frame's plus every op the
        genotype names, each in full (a discrete network has no γ to weigh them by), and
        the direct path's."""
        if not genotype.deep:
            return self.direct_kl()
        paths = self.path(genotype)
        total = self.direct_kl() + self.fixed_kl()
        for cell, (_, reduction) in zip(self.cells, self.plan, strict=True):
            assert isinstance(cell, SearchCell)
            for op, scale in cell.path_ops(paths["reduce" if reduction else "normal"]):
                if any(True for _ in op.parameters()):
                    total = total + scale * total_kl(op)
        return total
