"""The supernet's expected description length, fused into a few tensor operations.

    DL = KL(frame weights) + Σ_cells Σ_e Σ_o γ_e,o · KL_e,o          (nats)

Written op by op (:func:`mdlnas.search.method.expected_description_length`, the
method's reference) this is about ten small tensor operations per weight tensor, and a
search evaluates it in every forward pass: on the MLP
space it cost as much as the supernet's forward pass itself. Here every posterior mean
and width is concatenated into one vector, the per-element KL is computed once, and each
element is weighed by the mixing weight of the op that owns it (1 for the frame's weights,
which every architecture has). The sum is the same, grouped differently: the tests check
values and first and second derivatives against the op-by-op form.

The plan only records which parameter belongs to which term; the tensors are read from the
modules at every call, so substituted parameters (the hypergradient's) are honoured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mdlnas.space.variational import VariationalParameter


class FusedDescriptionLength:
    """``groups[k]``: the variational parameters whose KL is weighed by coefficient ``k``
    (coefficient 0 is the constant 1; coefficient ``k ≥ 1`` is entry ``k - 1`` of the
    concatenated, flattened mixing weights passed to :meth:`__call__`)."""

    def __init__(self, groups: Sequence[Sequence[VariationalParameter]],
                 prior_std: float | None, prior_mean: str = "zero",
                 labels: Sequence[str] | None = None,
                 scales: Sequence[float] | None = None) -> None:
        """``labels[k]``: what group ``k`` is (e.g. its op's name), for
        :meth:`per_weight_by_label`; ``scales[k]``: a constant that group ``k``'s KL is
        multiplied by besides its coefficient (an op built narrower than it stands for:
        partial channels), 1 by default."""
        self.params = [p for group in groups for p in group]
        self.sizes = [p.mu.numel() for p in self.params]
        self.coefficient_of_param = [k for k, group in enumerate(groups) for _ in group]
        group_scales = list(scales) if scales is not None else [1.0] * len(groups)
        self.scale_of_param = [group_scales[k] for k in self.coefficient_of_param]
        self.scaled = any(scale != 1.0 for scale in group_scales)
        self.prior_std = prior_std
        self.learn_mean = prior_mean == "empirical"
        names = list(labels) if labels is not None else [str(k) for k in range(len(groups))]
        self.label_of_param = [names[k] for k in self.coefficient_of_param]
        self.variational = bool(self.params) and all(p.rho is not None for p in self.params)
        self._index: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def _indices(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """Per element: the coefficient that weighs it, and the tensor it belongs to (the
        empirical-Bayes prior is fitted per tensor). Built once per device."""
        if device not in self._index:
            sizes = torch.tensor(self.sizes, device=device)
            coefficient = torch.tensor(self.coefficient_of_param, device=device)
            tensor_ids = torch.arange(len(self.sizes), device=device)
            self._index[device] = (
                coefficient.repeat_interleave(sizes), tensor_ids.repeat_interleave(sizes)
            )
        return self._index[device]

    def __call__(self, mixing: Tensor) -> Tensor:
        """``mixing``: every cell's γ, flattened and concatenated, ``(n_coefficients - 1,)``."""
        if not self.variational:  # point weights describe nothing (KL 0 by definition)
            return mixing.new_zeros(())
        kl, coefficient_of = self._elementwise_kl()
        coefficients = torch.cat([mixing.new_ones(1), mixing])
        weighed = coefficients.index_select(0, coefficient_of) * kl
        if self.scaled:
            weighed = weighed * self._scales(kl.device, kl.dtype)
        return weighed.sum()

    def _scales(self, device: torch.device, dtype: torch.dtype) -> Tensor:
        """Per element: its group's scale."""
        sizes = torch.tensor(self.sizes, device=device)
        return torch.tensor(self.scale_of_param, device=device, dtype=dtype).repeat_interleave(
            sizes)

    def _elementwise_kl(self) -> tuple[Tensor, Tensor]:
        """The KL of every weight to its tensor's prior ``(P,)``, and the coefficient index
        that weighs each."""
        mu = flat_concat([p.mean for p in self.params])  # (P,)
        rho = flat_concat([w for p in self.params if (w := p.width) is not None])  # (P,)
        coefficient_of, tensor_of = self._indices(mu.device)
        var = F.softplus(rho).pow(2)
        prior_var: Tensor | float
        if self.prior_std is None:  # the closed-form prior of each tensor (Graves 2011)
            sizes = torch.tensor(self.sizes, dtype=mu.dtype, device=mu.device)
            if self.learn_mean:
                sums = mu.new_zeros(len(self.sizes)).index_add(0, tensor_of, mu)
                mu = mu - (sums / sizes).index_select(0, tensor_of)
            second_moment = mu.pow(2) + var
            sums = mu.new_zeros(len(self.sizes)).index_add(0, tensor_of, second_moment)
            prior_var = (sums / sizes).index_select(0, tensor_of)
        else:
            second_moment = mu.pow(2) + var
            prior_var = self.prior_std**2
        kl = 0.5 * (torch.log(prior_var / var) + second_moment / prior_var - 1.0)  # (P,)
        return kl, coefficient_of

    def per_weight_by_label(self) -> dict[str, float]:
        """Mean KL per weight (nats), unweighted by γ, of every label's tensors: what each
        kind of op costs to describe, weight by weight, whether or not it is picked."""
        if not self.variational:
            return {}
        with torch.no_grad():
            kl, _ = self._elementwise_kl()
            per_tensor = torch.split(kl, self.sizes)
            totals: dict[str, list[float]] = {}
            for label, part in zip(self.label_of_param, per_tensor, strict=True):
                total = totals.setdefault(label, [0.0, 0.0])
                total[0] += float(part.sum())
                total[1] += part.numel()
        return {label: kl_sum / count for label, (kl_sum, count) in totals.items()}


class _FlatConcat(torch.autograd.Function):
    """``torch.cat`` of flattened tensors whose backward is one ``split`` of the gradient.

    ``torch.cat``'s own backward takes one slice per input; differentiated again (the
    exact hypergradient's double backward) each slice becomes a zero tensor of the whole
    length plus a copy, and the sum of those: work of the number of tensors times their
    total size. The backward of ``split`` is one concatenation; the double backward on mlp
    went from 1.24 to about 1.14 forward+backward passes (benchmarks/exact_phases.py)."""

    @staticmethod
    def forward(ctx: Any, *tensors: Tensor) -> Tensor:
        ctx.shapes = [t.shape for t in tensors]
        return torch.cat([t.reshape(-1) for t in tensors])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, ...]:
        sizes = [math.prod(shape) for shape in ctx.shapes]
        parts = torch.split(grad, sizes)
        return tuple(part.view(shape) for part, shape in zip(parts, ctx.shapes, strict=True))


def flat_concat(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors flattened and concatenated, ``(Σ numel,)``; twice differentiable."""
    out = _FlatConcat.apply(*tensors)  # type: ignore[no-untyped-call]  # torch's is untyped
    assert isinstance(out, Tensor)
    return out


def variational_parameters(module: nn.Module) -> list[VariationalParameter]:
    return [m for m in module.modules() if isinstance(m, VariationalParameter)]
