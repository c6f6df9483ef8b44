"""Variational layers: the KL against its closed form, the local reparameterisation against
brute-force weight sampling, and the noise controls (``sampling``, ``common_noise``)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from mdlnas.config import BayesConfig
from mdlnas.errors import ConfigError
from mdlnas.space.variational import (
    VariationalConv,
    VariationalLinear,
    VariationalParameter,
    common_noise,
    empirical_prior,
    gaussian_kl,
    optimizer_groups,
    sampling,
    total_kl,
)

N_SAMPLES = 20_000


def _random_posterior(shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g, dtype=torch.float64)
    sigma = 0.05 + torch.rand(shape, generator=g, dtype=torch.float64)
    return mu, sigma


# -- gaussian_kl -----------------------------------------------------------------------
@pytest.mark.parametrize("prior_std", [0.1, 1.0, 3.7])
def test_gaussian_kl_matches_torch_distributions(prior_std: float) -> None:
    mu, sigma = _random_posterior((5, 7), seed=0)
    expected = kl_divergence(Normal(mu, sigma), Normal(torch.zeros_like(mu), prior_std)).sum()
    got = gaussian_kl(mu, sigma, prior_std)
    assert got.shape == ()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_gaussian_kl_is_zero_when_posterior_equals_prior() -> None:
    mu = torch.zeros(10, dtype=torch.float64)
    sigma = torch.full((10,), 0.7, dtype=torch.float64)
    assert gaussian_kl(mu, sigma, 0.7).item() == pytest.approx(0.0, abs=1e-14)


def test_empirical_bayes_prior_equals_closed_form_and_minimises_kl() -> None:
    mu, sigma = _random_posterior((40,), seed=1)
    s_eb = math.sqrt(float((mu.pow(2) + sigma.pow(2)).mean()))
    eb = gaussian_kl(mu, sigma, None)

    def kl_at(s: float) -> float:
        prior = Normal(torch.zeros_like(mu), torch.full_like(mu, s))
        return float(kl_divergence(Normal(mu, sigma), prior).sum())

    # The EB value is the closed-form KL at s_eb ...
    assert float(eb) == pytest.approx(kl_at(s_eb), rel=1e-12)
    # ... which also has the documented simplified form 0.5 * sum(log(s^2 / sigma^2)).
    assert float(eb) == pytest.approx(float(0.5 * torch.log(s_eb**2 / sigma**2).sum()), rel=1e-12)
    # ... and is the minimum over a fine log-spaced grid of prior scales.
    grid = s_eb * torch.exp(torch.linspace(-2.0, 2.0, 4001, dtype=torch.float64))  # (G,)
    prior = Normal(torch.zeros(len(grid), 1, dtype=torch.float64), grid[:, None])
    values = kl_divergence(Normal(mu, sigma), prior).sum(-1)  # (G,)
    assert float(values.min()) >= float(eb) - 1e-9
    assert float(grid[values.argmin()]) == pytest.approx(s_eb, rel=2e-3)
    # A golden-section search over log s lands on the same scale.
    lo, hi = math.log(s_eb) - 3, math.log(s_eb) + 3
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if kl_at(math.exp(a)) < kl_at(math.exp(b)):
            hi = b
        else:
            lo = a
    assert math.exp((lo + hi) / 2) == pytest.approx(s_eb, rel=1e-6)


def test_empirical_prior_with_mean_minimises_kl_numerically() -> None:
    # Graves's closed form (m = mean μ, s² = mean((μ - m)² + σ²)) against a numerical
    # minimisation of the KL over (m, log s), independent of the closed form.
    mu, sigma = _random_posterior((50,), seed=4)
    mu = mu + 0.8  # a mean clearly away from 0
    m_eb, var_eb = empirical_prior(mu, sigma, learn_mean=True)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)  # (m, log s)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=200, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        prior = Normal(theta[0].expand_as(mu), theta[1].exp().expand_as(mu))
        value = kl_divergence(Normal(mu, sigma), prior).sum()
        value.backward()
        return value

    opt.step(closure)
    theta = theta.detach()
    assert float(theta[0]) == pytest.approx(float(m_eb), abs=1e-6)
    assert float(theta[1].exp() ** 2) == pytest.approx(float(var_eb), rel=1e-6)
    best = kl_divergence(Normal(mu, sigma), Normal(theta[0], theta[1].exp()))
    kl = gaussian_kl(mu, sigma, None, "empirical")
    assert float(kl) == pytest.approx(float(best.sum()), rel=1e-9)
    # the learned mean never costs more than the zero mean
    assert float(kl) < float(gaussian_kl(mu, sigma, None, "zero"))


def test_relative_initial_sigma_is_a_fraction_of_the_he_scale() -> None:
    # a hand computation on a tiny layer: σ₀ = 0.1·sqrt(2 / fan_in), and the KL to the
    # empirical prior (mean and variance per tensor) from numpy's sums
    torch.manual_seed(0)
    bayes = BayesConfig(init_sigma=0.1, sigma_init="relative", prior_std=None,
                        prior_mean="empirical")
    layer = VariationalConv(1, 3, 2, 5, bayes, bias=True)
    scale = math.sqrt(2.0 / (3 * 5))
    torch.testing.assert_close(layer.weight.sigma, torch.full((2, 3, 5), 0.1 * scale))
    assert layer.bias is not None
    torch.testing.assert_close(layer.bias.sigma, torch.full((2,), 0.1 * scale))
    mu = layer.weight.mu.detach().double().numpy().ravel()
    sigma = 0.1 * scale
    m = mu.mean()
    s2 = ((mu - m) ** 2 + sigma**2).mean()
    hand = 0.5 * sum(math.log(s2 / sigma**2) + ((x - m) ** 2 + sigma**2) / s2 - 1 for x in mu)
    assert float(layer.weight.kl().detach()) == pytest.approx(hand, rel=1e-5)
    # a weight's first price no longer depends on the layer's width (absolute: it does)
    wide = VariationalConv(1, 48, 2, 5, bayes)
    assert float(wide.weight.kl().detach()) / wide.weight.mu.numel() == pytest.approx(
        float(layer.weight.kl().detach()) / layer.weight.mu.numel(), rel=0.05)
    absolute = BayesConfig(init_sigma=0.1 * scale, prior_std=None, sigma_init="absolute")
    narrow_abs = VariationalConv(1, 3, 2, 5, absolute)
    wide_abs = VariationalConv(1, 48, 2, 5, absolute)
    assert float(wide_abs.weight.kl().detach()) / wide_abs.weight.mu.numel() < 0.5 * (
        float(narrow_abs.weight.kl().detach()) / narrow_abs.weight.mu.numel())


def test_empirical_prior_mean_needs_the_empirical_variance() -> None:
    with pytest.raises(ConfigError, match="empirical prior variance"):
        BayesConfig(prior_std=1.0, prior_mean="empirical")


def test_weight_decay_spares_the_widths() -> None:
    layer = VariationalLinear(5, 3, BayesConfig())
    groups = optimizer_groups(layer, list(layer.parameters()), 0.01, None, weight_decay=0.1)
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decay[id(layer.weight.mu)] == 0.1 and decay[id(layer.weight.rho)] == 0.0


def test_empirical_bayes_kl_is_differentiable() -> None:
    mu, sigma = _random_posterior((6,), seed=2)
    mu.requires_grad_(True)
    rho = torch.log(torch.expm1(sigma)).requires_grad_(True)
    gaussian_kl(mu, F.softplus(rho), None).backward()
    assert mu.grad is not None and torch.isfinite(mu.grad).all()
    assert rho.grad is not None and torch.isfinite(rho.grad).all()


# -- VariationalParameter ----------------------------------------------------------------
def test_parameter_initial_sigma_and_kl() -> None:
    init = torch.randn(3, 4)
    p = VariationalParameter(init.clone(), BayesConfig(init_sigma=0.02, prior_std=0.5))
    torch.testing.assert_close(p.sigma, torch.full((3, 4), 0.02))
    expected = kl_divergence(Normal(init, 0.02), Normal(torch.zeros_like(init), 0.5)).sum()
    torch.testing.assert_close(p.kl(), expected, rtol=1e-5, atol=1e-5)


def test_deterministic_parameter_has_no_rho_and_zero_kl() -> None:
    p = VariationalParameter(torch.randn(3), BayesConfig(variational=False))
    assert p.rho is None
    assert [name for name, _ in p.named_parameters()] == ["mu"]
    assert torch.equal(p.sigma, torch.zeros(3))
    assert p.kl().item() == 0.0


# -- local reparameterisation ------------------------------------------------------------
def _set_random_sigma(layer: nn.Module, seed: int) -> None:
    """Give every weight a distinct, sizeable posterior scale so the test has teeth."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in layer.modules():
            if isinstance(sub, VariationalParameter):
                assert sub.rho is not None
                sigma = 0.1 + 0.5 * torch.rand(sub.rho.shape, generator=g, dtype=sub.rho.dtype)
                sub.rho.copy_(torch.log(torch.expm1(sigma)))
                sub.mu.copy_(torch.randn(sub.mu.shape, generator=g, dtype=sub.mu.dtype))


def _sample_weights(p: VariationalParameter, n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` full weight tensors drawn from ``N(mu, sigma^2)``: ``(n, *shape)``."""
    mu, sigma = p.mu.detach(), p.sigma.detach()
    return mu + sigma * torch.randn((n, *mu.shape), generator=g, dtype=mu.dtype)


def _layer_samples(layer: nn.Module, x: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` training-mode outputs for the fixed batch ``x``: ``(n, *out_shape)``."""
    layer.train()
    torch.manual_seed(1234)
    with torch.no_grad():
        out = layer(x.repeat(n, *([1] * (x.dim() - 1))))  # (n*B, ...)
    return out.reshape(n, x.shape[0], *out.shape[1:])


def _assert_moments_match(
    layer_out: torch.Tensor, brute_out: torch.Tensor, mean_ref: torch.Tensor
) -> None:
    n = layer_out.shape[0]
    mean, var = layer_out.mean(0), layer_out.var(0)
    brute_var = brute_out.var(0)
    # Standard error of a sample mean is sqrt(var / n); 5 of them is a non-flaky bound
    # (and the seeds are fixed anyway).
    torch.testing.assert_close(mean, mean_ref, rtol=0.0, atol=float(5 * (var / n).sqrt().max()))
    # The relative standard error of a sample variance is ~sqrt(2 / n) (under 1% here),
    # for each of the two estimates; 8% leaves a wide margin.
    torch.testing.assert_close(var, brute_var, rtol=0.08, atol=1e-6)
    # The brute-force mean agrees with the mean map too (sanity of the reference).
    torch.testing.assert_close(brute_out.mean(0), mean_ref, rtol=0.0,
                               atol=float(5 * (brute_var / n).sqrt().max()))


def test_linear_local_reparameterisation_matches_weight_sampling() -> None:
    layer = VariationalLinear(5, 3, BayesConfig())
    _set_random_sigma(layer, seed=3)
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(4))
    assert layer.bias is not None

    out = _layer_samples(layer, x, N_SAMPLES)  # (n, B, 3)
    g = torch.Generator().manual_seed(5)
    w = _sample_weights(layer.weight, N_SAMPLES, g)  # (n, 3, 5)
    b = _sample_weights(layer.bias, N_SAMPLES, g)  # (n, 3)
    brute = torch.einsum("bi,noi->nbo", x, w) + b[:, None, :]  # (n, B, 3)
    mean_ref = x @ layer.weight.mu.detach().T + layer.bias.mu.detach()
    _assert_moments_match(out, brute, mean_ref)


@pytest.mark.parametrize(
    ("dim", "spatial", "kwargs"),
    [
        (1, (9,), {"stride": 1, "padding": 1, "bias": True}),
        (1, (9,), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
        (2, (5, 6), {"stride": 1, "padding": 1, "bias": True}),
        (2, (5, 6), {"stride": 2, "padding": 1, "groups": 2, "bias": True}),
    ],
)
def test_conv_local_reparameterisation_matches_weight_sampling(
    dim: int, spatial: tuple[int, ...], kwargs: dict[str, int]
) -> None:
    c_in, c_out, kernel = 2, 4, 3
    # float32 on purpose: PyTorch's dilated float64 convolution on CPU is a slow fallback.
    layer = VariationalConv(dim, c_in, c_out, kernel, BayesConfig(), **kwargs)  # type: ignore[arg-type]
    _set_random_sigma(layer, seed=6)
    x = torch.randn(2, c_in, *spatial, generator=torch.Generator().manual_seed(7))

    out = _layer_samples(layer, x, N_SAMPLES)  # (n, B, c_out, *spatial')

    # Brute force: stack the n sampled kernels as output channels, ordered (c_out, n) so
    # each group of the convolution still sees its own block of output channels.
    g = torch.Generator().manual_seed(8)
    w = _sample_weights(layer.weight, N_SAMPLES, g)  # (n, c_out, c_in/groups, k...)
    stacked = w.transpose(0, 1).reshape(c_out * N_SAMPLES, *w.shape[2:])
    conv = F.conv1d if dim == 1 else F.conv2d
    groups = kwargs.get("groups", 1)
    args = (kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1), groups)
    # Grouped convolutions with this many channels are slow, so run one group at a time.
    c_in_g, c_out_g = c_in // groups, c_out // groups
    brute = torch.cat([
        conv(x[:, j * c_in_g:(j + 1) * c_in_g],
             stacked[j * c_out_g * N_SAMPLES:(j + 1) * c_out_g * N_SAMPLES], None, *args[:3])
        for j in range(groups)
    ], dim=1)  # (B, c_out*n, *spatial')
    brute = brute.reshape(x.shape[0], c_out, N_SAMPLES, *brute.shape[2:]).movedim(2, 0)
    bias_mu = None
    if layer.bias is not None:
        b = _sample_weights(layer.bias, N_SAMPLES, g)  # (n, c_out)
        brute = brute + b.reshape(N_SAMPLES, 1, c_out, *([1] * dim))
        bias_mu = layer.bias.mu.detach()
    mean_ref = conv(x, layer.weight.mu.detach(), bias_mu, *args)
    assert out.shape == brute.shape == (N_SAMPLES, *mean_ref.shape)
    _assert_moments_match(out, brute, mean_ref)


_LAYERS = {
    "linear": lambda: VariationalLinear(5, 3, BayesConfig()),
    "conv1d": lambda: VariationalConv(1, 2, 3, 3, BayesConfig(), padding=1, bias=True),
    "conv2d": lambda: VariationalConv(2, 2, 3, 3, BayesConfig(), stride=2, padding=1),
}


def _input_for(layer: nn.Module) -> torch.Tensor:
    g = torch.Generator().manual_seed(9)
    if isinstance(layer, VariationalLinear):
        return torch.randn(4, 5, generator=g)
    assert isinstance(layer, VariationalConv)
    return torch.randn(4, 2, *((6,) * layer.dim), generator=g)


def _mean_map(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, VariationalLinear):
        assert layer.bias is not None
        return F.linear(x, layer.weight.mu, layer.bias.mu)
    assert isinstance(layer, VariationalConv)
    conv = F.conv1d if layer.dim == 1 else F.conv2d
    bias = layer.bias.mu if layer.bias is not None else None
    return conv(x, layer.weight.mu, bias, layer.stride, layer.padding, layer.dilation,
                layer.groups)


@pytest.mark.parametrize("kind", sorted(_LAYERS))
def test_eval_mode_is_the_deterministic_mean_map(kind: str) -> None:
    layer = _LAYERS[kind]()
    _set_random_sigma(layer, seed=10)
    x = _input_for(layer)
    layer.eval()
    with torch.no_grad():
        first, second = layer(x), layer(x)
        expected = _mean_map(layer, x)
    assert torch.equal(first, second)
    torch.testing.assert_close(first, expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", sorted(_LAYERS))
def test_sampling_context_forces_noise_in_eval(kind: str) -> None:
    layer = _LAYERS[kind]()
    _set_random_sigma(layer, seed=11)
    x = _input_for(layer)
    layer.eval()
    with torch.no_grad():
        mean = _mean_map(layer, x)
        with sampling():
            a, b = layer(x), layer(x)
        after = layer(x)
    assert not torch.allclose(a, mean)
    assert not torch.allclose(a, b)
    assert torch.equal(after, mean)  # the context is left cleanly
    with sampling(False), torch.no_grad():
        assert torch.equal(layer(x), mean)


@pytest.mark.parametrize("kind", sorted(_LAYERS))
def test_common_noise_replays_the_stream(kind: str) -> None:
    layer = _LAYERS[kind]()
    _set_random_sigma(layer, seed=12)
    x = _input_for(layer)
    layer.train()
    with torch.no_grad():
        with common_noise(3):
            first_a, first_b = layer(x), layer(x)
        torch.randn(100)  # the global RNG moving on must not matter
        with common_noise(3):
            second_a, second_b = layer(x), layer(x)
        with common_noise(4):
            other = layer(x)
    assert torch.equal(first_a, second_a)
    assert torch.equal(first_b, second_b)
    assert not torch.allclose(first_a, first_b)  # the stream moves on inside a context
    assert not torch.allclose(first_a, other)


def test_common_noise_is_restored_after_nesting() -> None:
    layer = VariationalLinear(5, 3, BayesConfig())
    _set_random_sigma(layer, seed=13)
    x = _input_for(layer)
    with torch.no_grad():
        with common_noise(1):
            reference = layer(x), layer(x)
        with common_noise(1):
            a = layer(x)
            with common_noise(2):
                layer(x)
            b = layer(x)  # the outer stream resumes where it was
    assert torch.equal(a, reference[0])
    assert torch.equal(b, reference[1])


@pytest.mark.parametrize("make", [
    lambda b: VariationalLinear(5, 3, b),
    lambda b: VariationalConv(1, 2, 3, 3, b, padding=1, bias=True),
    lambda b: VariationalConv(2, 2, 3, 3, b, padding=1),
], ids=["linear", "conv1d", "conv2d"])
def test_deterministic_mode_has_no_rho_no_noise_and_zero_kl(make: object) -> None:
    layer = make(BayesConfig(variational=False))  # type: ignore[operator]
    names = [name for name, _ in layer.named_parameters()]
    assert names and all(name.endswith(".mu") for name in names)
    assert not any("rho" in name for name in names)
    x = _input_for(layer)
    layer.train()
    with torch.no_grad():
        assert torch.equal(layer(x), _mean_map(layer, x))
    kl = layer.kl()
    assert kl.item() == 0.0
    assert total_kl(layer).item() == 0.0


def test_total_kl_sums_every_layer() -> None:
    bayes = BayesConfig(prior_std=None)
    a, b = VariationalLinear(4, 3, bayes), VariationalLinear(3, 2, bayes, bias=False)
    _set_random_sigma(a, seed=14)
    _set_random_sigma(b, seed=15)
    net = nn.Sequential(a, nn.ReLU(), nn.Sequential(b))
    assert b.bias is None and a.bias is not None
    expected = sum(
        gaussian_kl(p.mu, p.sigma, None) for p in (a.weight, a.bias, b.weight)
    )
    torch.testing.assert_close(total_kl(net), expected)
    assert total_kl(nn.ReLU()).item() == 0.0


def test_conv_rejects_other_dims() -> None:
    with pytest.raises(ConfigError, match="1-D or 2-D"):
        VariationalConv(3, 2, 2, 3, BayesConfig())


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(("kernel", "dilation"), [(3, 2), (5, 2), (3, 3)])
@pytest.mark.parametrize("length", [9, 40])
def test_depthwise_dilated_fast_path_equals_torch_conv(
    stride: int, kernel: int, dilation: int, length: int
) -> None:
    from mdlnas.space.variational import _depthwise_dilated_conv1d

    torch.manual_seed(0)
    x = torch.randn(3, 4, length)
    w, b = torch.randn(4, 1, kernel), torch.randn(4)
    pad = dilation * (kernel - 1) // 2
    expected = torch.nn.functional.conv1d(x, w, b, stride, pad, dilation, groups=4)
    got = _depthwise_dilated_conv1d(x, w, b, stride, pad, dilation)
    torch.testing.assert_close(got, expected)


def test_sigma_lr_moves_the_widths_at_their_own_rate() -> None:
    # Adam's first step moves every parameter with a non-zero gradient by about its lr.
    torch.manual_seed(0)
    layer = VariationalLinear(5, 3, BayesConfig(init_sigma=0.01, sigma_lr=0.5))
    groups = optimizer_groups(layer, list(layer.parameters()), lr=0.001, sigma_lr=0.5)
    assert sorted(len(g["params"]) for g in groups) == [2, 2]  # (μ, ρ) of weight and bias
    opt = torch.optim.Adam(groups)
    mu, rho = layer.weight.mu.detach().clone(), layer.weight.rho.detach().clone()  # type: ignore[union-attr]
    layer.train()
    loss = layer(torch.randn(8, 5)).pow(2).sum() + layer.kl()
    loss.backward()
    opt.step()
    assert torch.allclose((layer.weight.mu.detach() - mu).abs(), torch.tensor(0.001), rtol=0.01)
    step = (layer.weight.rho.detach() - rho).abs()  # type: ignore[union-attr]
    assert torch.allclose(step, torch.tensor(0.5), rtol=0.01)
    # without sigma_lr there is one group at the weights' rate
    assert len(optimizer_groups(layer, list(layer.parameters()), 0.001, None)) == 1


def test_parameters_that_follow_the_family_are_linear_in_its_position() -> None:
    torch.manual_seed(0)
    layer = VariationalLinear(5, 3, BayesConfig(init_sigma=0.05, prior_std=1.0))
    param = layer.weight
    assert param.rho is not None
    param.follow_family(means=True)
    assert param.rho_slope is not None and param.mu_slope is not None
    with torch.no_grad():
        param.rho_slope.copy_(torch.randn_like(param.rho))
        param.mu_slope.copy_(torch.randn_like(param.mu))
    x = torch.randn(4, 5)
    layer.eval()
    for position in (0.0, 0.3, 1.0):
        param.position = position
        mean = param.mu + position * param.mu_slope  # by hand
        sigma = F.softplus(param.rho + position * param.rho_slope)
        torch.testing.assert_close(param.sigma, sigma)
        by_hand = kl_divergence(Normal(mean, sigma), Normal(0.0, 1.0)).sum()
        torch.testing.assert_close(param.kl(), by_hand)
        assert layer.bias is not None
        torch.testing.assert_close(layer(x), F.linear(x, mean, layer.bias.mu))
    # the slope of ρ is a width: trained at the width rate, never decayed; μ's is a weight
    groups = optimizer_groups(layer, list(layer.parameters()), 0.001, 0.5, weight_decay=0.1)
    widths = next(g for g in groups if g["lr"] == 0.5)
    assert any(p is param.rho_slope for p in widths["params"])
    assert not any(p is param.mu_slope for p in widths["params"])
    assert widths["weight_decay"] == 0.0
    # widths only: the means stay shared; point weights have no width to follow
    only_widths = VariationalLinear(5, 3, BayesConfig()).weight
    only_widths.follow_family()
    assert only_widths.mu_slope is None and only_widths.rho_slope is not None
    point = VariationalLinear(5, 3, BayesConfig(variational=False)).weight
    point.follow_family()
    assert point.rho_slope is None and point.width_parameters() == []
