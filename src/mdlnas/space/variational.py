"""Variational (mean-field Gaussian) layers and their description length.

Each weight tensor has a posterior ``Q(w) = N(mu, diag sigma^2)`` with
``sigma = softplus(rho)``. Training forward passes use the local reparameterisation
trick: the pre-activation of a linear map of a Gaussian weight is Gaussian, so we sample
the pre-activation (one noise draw per output unit and example) instead of the weights,
which gives lower-variance gradients at the cost of a second matmul. At evaluation the
mean weights are used. With ``variational=False`` the layer is an ordinary deterministic
layer (plain DARTS) whose KL is zero.

Noise is drawn through :func:`gaussian_noise`, which honours :func:`common_noise`: inside
that context every evaluation replays the same noise stream, which is what a
hypergradient needs so that its several evaluations see the same samples. Inside
:func:`noise_rows` a data-parallel rank draws the noise of the whole batch and keeps its
own rows, so the ranks together see exactly the noise of one process.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mdlnas.config import BayesConfig
from mdlnas.errors import ConfigError
from mdlnas.space.twice import convolution

_noise_generator: ContextVar[torch.Generator | None] = ContextVar("noise_generator", default=None)
_force_sampling: ContextVar[bool] = ContextVar("force_sampling", default=False)
_rows: ContextVar[tuple[int, int] | None] = ContextVar("noise_rows", default=None)


@contextlib.contextmanager
def common_noise(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Replay one noise stream: every call to :func:`gaussian_noise` inside the context
    draws from a generator seeded with ``seed``, so re-entering with the same seed and the
    same sequence of shapes reproduces the same samples."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    token = _noise_generator.set(generator)
    try:
        yield
    finally:
        _noise_generator.reset(token)


@contextlib.contextmanager
def sampling(enabled: bool = True) -> Iterator[None]:
    """Sample weights even in evaluation mode (for predictive uncertainty)."""
    token = _force_sampling.set(enabled)
    try:
        yield
    finally:
        _force_sampling.reset(token)


@contextlib.contextmanager
def noise_rows(start: int, total: int) -> Iterator[None]:
    """The batch holds rows ``start:`` of a batch of ``total`` rows: noise is drawn for all
    ``total`` rows (the stream advances as for one process) and this part is kept. Its cost
    is ``N`` times the noise of a shard, small beside the shard's matrix products."""
    token = _rows.set((start, total))
    try:
        yield
    finally:
        _rows.reset(token)


def gaussian_noise(like: Tensor) -> Tensor:
    """Standard normal noise shaped like ``like`` (batch first), from the common stream if
    one is active, and this shard's rows of the whole batch's noise inside :func:`noise_rows`."""
    generator = _noise_generator.get()
    rows = _rows.get()
    if rows is None:
        return torch.randn(like.shape, dtype=like.dtype, device=like.device, generator=generator)
    start, total = rows
    whole = torch.randn((total, *like.shape[1:]), dtype=like.dtype, device=like.device,
                        generator=generator)
    return whole[start : start + like.shape[0]]


def uniform_noise(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """Uniform noise on (0, 1) of ``shape``, from the common stream if one is active. Not
    batch-shaped: every data-parallel rank draws the same values (an architecture sample
    is the whole batch's)."""
    return torch.rand(shape, dtype=like.dtype, device=like.device,
                      generator=_noise_generator.get())


def _inverse_softplus(x: float) -> float:
    return x + math.log(-math.expm1(-x))


def empirical_prior(mu: Tensor, sigma: Tensor, learn_mean: bool) -> tuple[Tensor, Tensor]:
    """The prior ``N(m, s^2)`` of one tensor that minimises its KL, in closed form
    (Graves 2011): ``m = mean(mu)`` (or 0 when the mean is not learned) and
    ``s^2 = mean((mu - m)^2 + sigma^2)``. Returns ``(m, s^2)`` as 0-d tensors."""
    mean = mu.mean() if learn_mean else mu.new_zeros(())
    return mean, ((mu - mean).pow(2) + sigma.pow(2)).mean()


def gaussian_kl(
    mu: Tensor, sigma: Tensor, prior_std: float | None, prior_mean: str = "zero"
) -> Tensor:
    """``KL(N(mu, sigma^2) || N(m, s^2))`` summed over all elements, in nats.

    With ``prior_std`` given, ``m = 0`` and ``s = prior_std``. With ``prior_std=None`` the
    prior is the empirical-Bayes optimum of :func:`empirical_prior` (``m`` learned too when
    ``prior_mean="empirical"``), which turns the sum into ``0.5 * sum(log(s^2 / sigma^2))``.
    """
    var = sigma.pow(2)
    if prior_std is None:
        mean, prior_var = empirical_prior(mu, sigma, prior_mean == "empirical")
    else:
        mean = mu.new_zeros(())
        prior_var = torch.as_tensor(prior_std**2, dtype=mu.dtype, device=mu.device)
    second_moment = (mu - mean).pow(2) + var
    return 0.5 * (torch.log(prior_var / var) + second_moment / prior_var - 1.0).sum()


class VariationalParameter(nn.Module):
    """A weight tensor with a Gaussian posterior (or a point estimate when deterministic)."""

    def __init__(self, init: Tensor, bayes: BayesConfig, scale: float = 1.0) -> None:
        """``scale``: the tensor's initial standard deviation, the unit of ``init_sigma``
        when ``bayes.sigma_init`` is ``"relative"``."""
        super().__init__()
        self.bayes = bayes
        self.mu = nn.Parameter(init)
        if bayes.variational:
            sigma = bayes.init_sigma * (scale if bayes.sigma_init == "relative" else 1.0)
            rho = torch.full_like(init, _inverse_softplus(sigma))
            self.rho: nn.Parameter | None = nn.Parameter(rho)
        else:
            self.rho = None
        # In a complexity family whose parameters follow λ (follow_family): their change
        # from the low end of the range to the high end, and where in the range this pass is.
        self.mu_slope: nn.Parameter | None = None
        self.rho_slope: nn.Parameter | None = None
        self.position = 0.0

    def follow_family(self, means: bool = False) -> None:
        """Make ρ (and with ``means`` μ too) a linear function of the family's position, the
        place of log λ in its range: ``ρ + position · rho_slope``, the slopes starting at 0
        (the shared parameter). For weights the data determine, the optimal σ² grows about
        in proportion to λ, so ``log σ`` (≈ ρ for small σ) is about linear in log λ: one σ
        shared by a range of λ is too wide at its low end and too narrow at its high end.
        The means feel the prior's pull in proportion to λ too. Widths of point weights:
        nothing to follow."""
        if self.rho is not None and self.rho_slope is None:
            self.rho_slope = nn.Parameter(torch.zeros_like(self.rho))
        if means and self.mu_slope is None:
            self.mu_slope = nn.Parameter(torch.zeros_like(self.mu))

    def width_parameters(self) -> list[nn.Parameter]:
        """The parameters that set σ (trained at the width learning rate, never decayed)."""
        return [p for p in (self.rho, self.rho_slope) if p is not None]

    @property
    def mean(self) -> Tensor:
        """μ of this pass (at :attr:`position` when it follows a family)."""
        if self.mu_slope is None or self.position == 0.0:
            return self.mu
        return self.mu + self.position * self.mu_slope

    @property
    def width(self) -> Tensor | None:
        """ρ of this pass (at :attr:`position` when it follows a family); None if point."""
        if self.rho is None or self.rho_slope is None or self.position == 0.0:
            return self.rho
        return self.rho + self.position * self.rho_slope

    @property
    def sigma(self) -> Tensor:
        width = self.width
        if width is None:
            return torch.zeros_like(self.mu)
        return F.softplus(width)

    def kl(self) -> Tensor:
        width = self.width
        if width is None:
            return self.mu.new_zeros(())
        return gaussian_kl(self.mean, F.softplus(width), self.bayes.prior_std,
                           self.bayes.prior_mean)


class _VariationalMap(nn.Module):
    """Shared logic of layers whose output is linear in their weights."""

    weight: VariationalParameter
    bias: VariationalParameter | None

    def _map(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _samples(self) -> bool:
        return self.weight.rho is not None and (self.training or _force_sampling.get())

    def forward(self, x: Tensor) -> Tensor:
        bias_mu = self.bias.mean if self.bias is not None else None
        mean = self._map(x, self.weight.mean, bias_mu)
        if not self._samples():
            return mean
        # Local reparameterisation: Var[out] = map(x^2, sigma_w^2) + sigma_b^2.
        bias_var = self.bias.sigma.pow(2) if self.bias is not None else None
        var = self._map(x.pow(2), self.weight.sigma.pow(2), bias_var)
        return mean + var.clamp_min(1e-16).sqrt() * gaussian_noise(mean)

    def kl(self) -> Tensor:
        total = self.weight.kl()
        if self.bias is not None:
            total = total + self.bias.kl()
        return total


class VariationalLinear(_VariationalMap):
    """``y = x W^T + b`` with Gaussian ``W`` and ``b``."""

    def __init__(
        self, in_features: int, out_features: int, bayes: BayesConfig, bias: bool = True
    ) -> None:
        super().__init__()
        scale = math.sqrt(2.0 / in_features)  # He init
        w = torch.randn(out_features, in_features) * scale
        self.weight = VariationalParameter(w, bayes, scale)
        self.bias = VariationalParameter(torch.zeros(out_features), bayes, scale) if bias else None

    def _map(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return F.linear(x, weight, bias)


class VariationalConv(_VariationalMap):
    """A 1-D (``dim=1``) or 2-D (``dim=2``) convolution with Gaussian weights."""

    def __init__(
        self,
        dim: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bayes: BayesConfig,
        *,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if dim not in (1, 2):
            raise ConfigError(f"convolutions are 1-D or 2-D, got dim={dim}")
        self.dim = dim
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        shape = (out_channels, in_channels // groups) + (kernel_size,) * dim
        fan_in = (in_channels // groups) * kernel_size**dim
        scale = math.sqrt(2.0 / fan_in)  # He init: convs feed ReLUs
        w = torch.randn(shape) * scale
        self.weight = VariationalParameter(w, bayes, scale)
        self.bias = VariationalParameter(torch.zeros(out_channels), bayes, scale) if bias else None

    def _map(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.dim == 1 and self.dilation > 1 and self.groups == x.shape[1] == weight.shape[0]:
            return _depthwise_dilated_conv1d(x, weight, bias, self.stride, self.padding,
                                             self.dilation)
        return convolution(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


def _depthwise_dilated_conv1d(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int, dilation: int
) -> Tensor:
    """A depthwise dilated 1-D convolution as a sum of shifted, scaled copies of the input.

    On the CPU, oneDNN's backward pass for this case was measured about 3x slower than
    these few elementwise ops on the small tensors of a search (B=256, C=16, L=40)."""
    kernel = weight.shape[-1]
    padded = F.pad(x, (padding, padding))  # (B, C, L + 2p)
    length = padded.shape[-1] - dilation * (kernel - 1)
    out: Tensor | None = None
    for tap in range(kernel):
        start = tap * dilation
        term = padded[..., start : start + length : 1] * weight[:, 0, tap, None]  # (B, C, L')
        out = term if out is None else out + term
    assert out is not None
    if stride > 1:
        out = out[..., ::stride]
    if bias is not None:
        out = out + bias[:, None]
    return out


def variational_layers(module: nn.Module) -> Iterator[_VariationalMap]:
    """Every variational layer inside ``module``."""
    for sub in module.modules():
        if isinstance(sub, _VariationalMap):
            yield sub


def total_kl(module: nn.Module) -> Tensor:
    """Sum of the KL of every variational layer in ``module`` (nats); 0 if none."""
    terms = [layer.kl() for layer in variational_layers(module)]
    if not terms:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        return torch.zeros((), device=device)
    return torch.stack(terms).sum()


def optimizer_groups(
    model: nn.Module, params: Sequence[nn.Parameter], lr: float, sigma_lr: float | None,
    weight_decay: float = 0.0,
) -> list[dict[str, Any]]:
    """Adam parameter groups for ``params``: the posterior widths ρ of ``model``'s
    variational parameters at ``sigma_lr`` (when given), everything else at ``lr``.
    ``weight_decay`` applies to the weights only, never to ρ (decaying ρ towards 0 would
    pull every σ to softplus(0) ≈ 0.69, whatever the weight needs) nor to a regression's
    noise scale ``log_noise`` (it would pull the noise towards 1 in scaled units)."""
    if sigma_lr is None and weight_decay == 0.0:
        return [{"params": list(params), "lr": lr}]
    rhos = {id(p) for m in model.modules() if isinstance(m, VariationalParameter)
            for p in m.width_parameters()}
    log_noise = getattr(model, "log_noise", None)
    undecayed = {id(log_noise)} if isinstance(log_noise, nn.Parameter) else set()
    widths = [p for p in params if id(p) in rhos]
    rest = [p for p in params if id(p) not in rhos and id(p) not in undecayed]
    noise = [p for p in params if id(p) in undecayed]
    width_lr = sigma_lr if sigma_lr is not None else lr
    return [g for g in ({"params": rest, "lr": lr, "weight_decay": weight_decay},
                        {"params": widths, "lr": width_lr, "weight_decay": 0.0},
                        {"params": noise, "lr": lr, "weight_decay": 0.0})
            if g["params"]]
