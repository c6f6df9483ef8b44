"""Partial channels (`--partial-channels K`, PC-DARTS): the edge by hand, the description
length's scale against counted weights, the fused DL, and the settings refused. (A whole
search against the method's plain functions is a case of tests/search/test_method.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mdlnas.cli import main
from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig
from mdlnas.errors import ConfigError
from mdlnas.search import method
from mdlnas.space.cell import MixedOp
from mdlnas.space.ops import OpContext, build_op
from mdlnas.space.supernet import Supernet

OPS = ("zero", "identity", "conv_3", "max_pool_3", "sep_conv_3")
CONV = SpaceConfig("conv1d", 1, ("conv_3", "sep_conv_3", "max_pool_3", "identity", "zero"),
                   2, 2, 4, (1,))


def _shuffled_by_hand(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Channel g·(C/groups) + i to position i·groups + g, one channel at a time."""
    c = x.shape[1]
    out = torch.empty_like(x)
    for g in range(groups):
        for i in range(c // groups):
            out[:, i * groups + g] = x[:, g * (c // groups) + i]
    return out


@pytest.mark.parametrize(("dim", "stride", "shape"),
                         [(1, 1, (3, 8, 9)), (1, 2, (3, 8, 9)), (2, 1, (2, 8, 5, 5))])
def test_a_partial_edge_mixes_part_of_the_channels_and_passes_the_rest(
    dim: int, stride: int, shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    ops = OPS if dim == 1 else ("zero", "identity", "sep_conv_3", "max_pool_3")
    mixed = MixedOp(ops, OpContext(dim, 8, stride, BayesConfig()), partial=4).eval()
    x = torch.randn(shape)
    gamma = torch.softmax(torch.randn(len(ops)), dim=0)
    with torch.no_grad():
        seen, passing = x[:, :2], x[:, 2:]  # 8 channels / 4
        mixed_part = sum(gamma[i] * op(seen) for i, op in zip(mixed.active, mixed.ops,
                                                              strict=True))
        if stride == 2:
            passing = F.max_pool1d(passing, 2, 2, ceil_mode=True)
        expected = _shuffled_by_hand(torch.cat([mixed_part, passing], 1), 4)
        got = mixed(x, gamma)
    assert got.shape[1] == 8
    torch.testing.assert_close(got, expected)
    # every op is built 2 channels wide
    conv = mixed.chosen(ops.index("sep_conv_3"))
    kernels = [p for p in conv.parameters() if p.dim() > 1]
    assert kernels and all(max(p.shape[:2]) == 2 for p in kernels)


def test_an_ops_description_length_is_scaled_to_its_full_width() -> None:
    ctx = OpContext(1, 8, 1, BayesConfig())
    mixed = MixedOp(OPS, ctx, partial=2)

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    for name in ("conv_3", "sep_conv_3"):
        index = OPS.index(name)
        full = count(build_op(name, ctx))
        half = count(build_op(name, OpContext(1, 4, 1, BayesConfig())))
        assert mixed.dl_scale(index) == pytest.approx(full / half)
    assert mixed.dl_scale(OPS.index("conv_3")) > 3.5  # a dense convolution: about K²
    assert mixed.dl_scale(OPS.index("identity")) == 1.0  # nothing to describe
    assert MixedOp(OPS, ctx).dl_scale(OPS.index("conv_3")) == 1.0


def test_the_fused_description_length_equals_the_sum_over_scaled_ops() -> None:
    torch.manual_seed(0)
    model = Supernet(CONV, (2, 8), 3, "classification", BayesConfig(init_sigma=0.05),
                     partial=2).double()
    fused, plain = model.description_length(), method.expected_description_length(model)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=0)
    unscaled = Supernet(CONV, (2, 8), 3, "classification", BayesConfig(init_sigma=0.05),
                        partial=2).double()
    for mixed in (m for m in unscaled.modules() if isinstance(m, MixedOp)):
        mixed.dl_scales = [1.0] * len(mixed.dl_scales)
    assert float(method.expected_description_length(unscaled).detach()) < float(plain.detach())
    params = [p for p in model.parameters() if p.requires_grad]
    for g_f, g_p in zip(torch.autograd.grad(fused, params, allow_unused=True),
                        torch.autograd.grad(plain, params, allow_unused=True), strict=True):
        assert (g_f is None) == (g_p is None)
        if g_f is not None and g_p is not None:
            torch.testing.assert_close(g_f, g_p, rtol=1e-10, atol=1e-12)


def test_partial_channels_that_do_not_divide_or_sample_are_refused() -> None:
    with pytest.raises(ConfigError, match="must divide the width of every cell"):
        Supernet(CONV, (2, 8), 3, "classification", BayesConfig(), partial=3)
    with pytest.raises(ConfigError, match="with --relaxation gumbel give 1"):
        SearchConfig(partial_channels=2, relaxation="gumbel")


def test_a_partial_search_end_to_end_derives_a_full_width_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mdlnas.space.network import DerivedNetwork, count_weights
    from mdlnas.workflow import load_run_config
    from mdlnas.workflow.run_dir import load_genotype

    out = tmp_path / "run"
    assert main(["search", "--data", "mnist1d", "--n-train", "200", "--epochs", "2",
                 "--calibrate", "0", "--channels", "4", "--partial-channels", "2",
                 "--train-epochs", "1", "--quiet", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert load_run_config(out).search.partial_channels == 2
    genotype = load_genotype(out)
    assert genotype.space.channels == 4  # the cells are retrained at the search's width
    bayes = load_run_config(out).train.bayes
    assert result["eval"]["params"] == count_weights(DerivedNetwork(genotype, bayes))
