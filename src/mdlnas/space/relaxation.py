"""How α becomes the mixing weights of one forward pass of the supernet.

``softmax`` (the seed, DARTS): every edge computes every op and mixes them by
``γ = softmax(α)``.

``gumbel`` (sampled paths, as GDAS, Dong & Yang 2019): every edge computes one op, drawn
from ``Categorical(γ)`` by the Gumbel-max trick, ``k = argmax_o (α_o + g_o)`` with
``g_o = −log(−log U_o)``. The mixing weights of the pass are ``h = onehot(k) − s̄ + s``
where ``s = softmax((α + g) / τ)`` and ``s̄`` is ``s`` detached: their value is the one-hot
sample, their gradient that of ``s`` (straight-through). Only op ``k`` is computed, so the
α-gradient of the likelihood reaches α through ``h_k`` alone; ``τ`` scales it.

``reinforce`` (sampled paths, score-function gradient, as ENAS's controller but with α in
place of a controller): the same draw, with mixing weights ``onehot(k)`` that carry no
gradient. The likelihood's α-gradient is estimated from several paths drawn for one batch,
``∇_α E[NLL] ≈ (1/K) Σ_k (NLL_k − b_k) ∇_α log p(path_k)``, each path's baseline ``b_k``
the mean NLL of the other ``K − 1`` (leave-one-out; Kool et al. 2019), which keeps the
estimate unbiased (:func:`mdlnas.search.method.sampled_nll`). Straight-through measures
how the loss changes when the drawn op's output is scaled; the score function compares
whole drawn networks. With a description length the ``gumbel`` search fell to the frame in
every run measured, ``reinforce`` did not (docs/RESULTS.md, "Sampled paths").

Because the sample is distributed as ``Categorical(softmax(α))`` whatever ``τ`` is, the
expected description length of the sampled architecture is the supernet's
``Σ_e Σ_o γ_e,o · KL_e,o`` unchanged: the likelihood and the description length refer to the
same distribution over architectures (with the softmax mixture the likelihood is that of
the mixture, the description length an expectation over sampled ops).

With either sampling relaxation a drawn pooling edge is normalised over the batch
(:func:`mdlnas.space.cell.normalised`), as DARTS's search normalises its pools; the
derived network pools without it.

The noise comes from :func:`mdlnas.space.variational.uniform_noise`, so inside
:func:`~mdlnas.space.variational.common_noise` the hypergradient's repeated evaluations see
the same path, and a resumed search draws the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mdlnas.space.variational import uniform_noise

# U is kept off 0 and 1, where −log(−log U) is infinite
_EDGE = 1e-10


@dataclass(frozen=True)
class SampledPaths:
    """One sampled op per edge of one cell type: ``weights`` ``(n_edges, n_ops)`` (value
    one-hot; gradient straight-through, or none for :func:`draw_paths`), ``choices``, the
    op index of every edge, and for :func:`draw_paths` ``log_prob``, ``log p(choices)``
    under softmax(α), a function of α (the score-function estimate's only way to α)."""

    weights: Tensor
    choices: tuple[int, ...]
    log_prob: Tensor | None = None


def gumbel(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """Standard Gumbel noise ``−log(−log U)``."""
    u = uniform_noise(shape, like).clamp(_EDGE, 1.0 - _EDGE)
    return -torch.log(-torch.log(u))


def sample_paths(alpha: Tensor, tau: float) -> SampledPaths:
    """One op per edge of ``alpha`` ``(n_edges, n_ops)``, with straight-through weights."""
    noisy = alpha + gumbel(tuple(alpha.shape), alpha)
    soft = torch.softmax(noisy / tau, dim=-1)
    choices = noisy.detach().argmax(dim=-1)
    hard = torch.nn.functional.one_hot(choices, alpha.shape[-1]).to(soft.dtype)
    return SampledPaths(hard - soft.detach() + soft, tuple(int(k) for k in choices))


def draw_paths(alpha: Tensor) -> SampledPaths:
    """One op per edge, drawn as :func:`sample_paths` draws it, with one-hot weights that
    carry no gradient: α is reached through ``log_prob`` alone (``reinforce``)."""
    choices = (alpha.detach() + gumbel(tuple(alpha.shape), alpha)).argmax(dim=-1)
    hard = torch.nn.functional.one_hot(choices, alpha.shape[-1]).to(alpha.dtype)
    log_prob = torch.log_softmax(alpha, dim=-1).gather(-1, choices[:, None]).sum()
    return SampledPaths(hard, tuple(int(k) for k in choices), log_prob)


def most_probable_paths(alpha: Tensor) -> SampledPaths:
    """The mode of the distribution: the most probable op of every edge, weight 1 (what an
    evaluation pass of a sampling supernet runs)."""
    choices = alpha.detach().argmax(dim=-1)
    hard = torch.nn.functional.one_hot(choices, alpha.shape[-1]).to(alpha.dtype)
    return SampledPaths(hard, tuple(int(k) for k in choices))


def temperature(start: float, end: float, progress: float) -> float:
    """``τ`` at ``progress`` ∈ [0, 1] of the search's architecture epochs: geometric from
    ``start`` to ``end`` (linear in log τ, so each epoch sharpens by the same factor)."""
    progress = min(max(progress, 0.0), 1.0)
    return float(start * (end / start) ** progress)
