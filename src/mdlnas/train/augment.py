"""Random changes to each retraining batch of images or signals (``--augment``).

``shift`` moves every example by up to ``max(1, round(size / 14))`` positions along each
spatial axis (2 pixels for a 28×28 image), filling the gap with zeros: the zero-padded,
randomly cropped copies of the CIFAR and Fashion-MNIST recipes. ``shift-flip`` also
mirrors half of the examples left to right (the last axis), which suits images whose class
does not depend on the side (clothes, objects) and not digits or text. The search never
augments: it compares architectures on the data as given.

Every process under torchrun draws the same changes (the generator is seeded alike and
each rank then takes its shard of the augmented batch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mdlnas.config import Augment
from mdlnas.errors import ConfigError


def max_shift(size: int) -> int:
    """How far an axis of ``size`` positions is shifted at most."""
    return max(1, round(size / 14))


def check_augment(kind: Augment, input_shape: tuple[int, ...]) -> None:
    """Refuse augmentation of tables (no axis to shift along) before any training."""
    if kind != "none" and len(input_shape) < 2:
        raise ConfigError(
            f"--augment {kind} moves images and signals along their axes, but this data is a "
            "table of features; leave --augment at none"
        )


def shifted(x: Tensor, offsets: Tensor, pad: tuple[int, ...]) -> Tensor:
    """Each example ``x[i]`` zero-padded by ``pad[a]`` on both sides of spatial axis ``a``
    and cut back to its size from position ``offsets[i, a]`` (``pad[a]`` leaves it as it
    was)."""
    spatial = x.shape[2:]
    widths = [p for p in reversed(pad) for _ in (0, 1)]  # F.pad lists the last axis first
    out = F.pad(x, widths)
    n, channels = x.shape[:2]
    for axis, size in enumerate(spatial):
        dim = 2 + axis
        index = offsets[:, axis, None] + torch.arange(size, device=x.device)  # (n, size)
        view = [n] + [1] * (x.dim() - 1)
        view[dim] = size
        shape = list(out.shape)
        shape[dim] = size
        out = out.gather(dim, index.view(view).expand(shape))
    assert out.shape == x.shape and channels == x.shape[1]
    return out


def augment_batch(x: Tensor, kind: Augment, generator: torch.Generator) -> Tensor:
    """``x`` (examples, channels, *spatial) changed at random as ``kind`` says."""
    if kind == "none":
        return x
    spatial = x.shape[2:]
    pad = tuple(max_shift(size) for size in spatial)
    high = torch.tensor([2 * p + 1 for p in pad])
    draws = torch.rand(len(x), len(spatial), generator=generator)
    offsets = (draws * high).long().clamp_max(high - 1).to(x.device)
    out = shifted(x, offsets, pad)
    if kind == "shift-flip":
        mirror = torch.rand(len(x), generator=generator) < 0.5
        mirror = mirror.view(-1, *[1] * (x.dim() - 1)).to(x.device)
        out = torch.where(mirror, out.flip(-1), out)
    return out
