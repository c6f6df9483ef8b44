"""Named search spaces. Each default suits a 2-core CPU; flags scale it up on a GPU.

A preset is a function of the overrides a user may give (nodes, layers, channels, ops),
registered by name, so a new space is one registered function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mdlnas.config import SpaceConfig
from mdlnas.errors import ConfigError
from mdlnas.registry import Registry
from mdlnas.space.ops import OPS


@dataclass(frozen=True)
class SpaceOverrides:
    """User overrides of a preset; ``None`` keeps the preset's value."""

    n_nodes: int | None = None
    layers: int | None = None
    channels: int | None = None
    ops: tuple[str, ...] | None = None
    channel_growth: int | None = None
    stem_stride: int | None = None


SpacePreset = Callable[[SpaceOverrides], SpaceConfig]
SPACES: Registry[SpacePreset] = Registry("search space")

# Which space suits which kind of data, when the user does not say.
SPACE_FOR_MODALITY = {"tabular": "mlp", "signal": "conv1d", "image": "conv2d"}

CONV_OPS = (
    "conv_3", "conv_5", "dil_conv_3", "sep_conv_3",
    "max_pool_3", "avg_pool_3", "identity", "zero",
)
DARTS_CNN_OPS = (
    "sep_conv_3", "sep_conv_5", "dil_conv_3", "dil_conv_5",
    "max_pool_3", "avg_pool_3", "identity", "zero",
)


def _make(
    name: str, dim: int, ops: tuple[str, ...], n_nodes: int, layers: int, channels: int,
    o: SpaceOverrides, growth: int = 2, stem_stride: int = 1,
) -> SpaceConfig:
    layers = o.layers if o.layers is not None else layers
    return SpaceConfig(
        name=name,
        dim=dim,
        ops=o.ops if o.ops is not None else ops,
        n_nodes=o.n_nodes if o.n_nodes is not None else n_nodes,
        layers=layers,
        channels=o.channels if o.channels is not None else channels,
        reduction_layers=reduction_positions(dim, layers),
        channel_growth=o.channel_growth if o.channel_growth is not None else growth,
        stem_stride=o.stem_stride if o.stem_stride is not None else stem_stride,
    )


@SPACES.register("mlp")
def mlp_space(o: SpaceOverrides) -> SpaceConfig:
    """Tabular data: a cell of fully connected ops of two sizes, identity and zero."""
    return _make("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 3, 1, 32, o)


@SPACES.register("conv1d")
def conv1d_space(o: SpaceOverrides) -> SpaceConfig:
    """Signals: 1-D convolutions (plain, dilated, separable), pooling, identity, zero.

    Narrow (8 channels) and of one width throughout (growth 1), so the frame every
    architecture pays for is small (on MNIST-1D: 114 weights, stem and head) and the size
    of the network is the search's decision; ``--channels`` widens it for larger data."""
    return _make("conv1d", 1, CONV_OPS, 3, 3, 8, o, growth=1)


@SPACES.register("conv2d")
def conv2d_space(o: SpaceOverrides) -> SpaceConfig:
    """Images: the operations of DARTS's CNN cell, with normal and reduction cells.

    Narrow and of one width (8 channels, growth 1) like ``conv1d``, and the stem halves the
    image (stride 2): on 2,000 Fashion-MNIST rows a search epoch takes 21-28 s instead of
    about 160 s, and plain DARTS's network is as accurate (0.805 with 2,674 weights against 0.801
    with 9,554; docs/RESULTS.md)."""
    return _make("conv2d", 2, DARTS_CNN_OPS, 3, 3, 8, o, growth=1, stem_stride=2)


def reduction_positions(dim: int, layers: int) -> tuple[int, ...]:
    """The cells that halve the resolution: at one and two thirds of the depth, as in
    DARTS (the second of two cells; none in a vector space or a single cell)."""
    if dim > 0 and layers >= 3:
        return (layers // 3, 2 * layers // 3)
    if dim > 0 and layers == 2:
        return (1,)
    return ()


def make_space(name: str, overrides: SpaceOverrides | None = None) -> SpaceConfig:
    return check_ops(SPACES.get(name)(overrides or SpaceOverrides()))


def check_ops(space: SpaceConfig) -> SpaceConfig:
    """Fail early, before any work, if an op is unknown or does not fit the space."""
    for name in space.ops:
        if space.dim not in OPS.get(name).dims:
            fitting = [n for n in OPS.names() if space.dim in OPS.get(n).dims]
            raise ConfigError(
                f"op {name!r} does not fit space {space.name!r} (dim {space.dim}); "
                f"ops that do: {', '.join(fitting)}"
            )
    return space


def space_for(modality: str) -> str:
    try:
        return SPACE_FOR_MODALITY[modality]
    except KeyError:
        raise ConfigError(f"no default search space for {modality!r} data") from None
