"""`--augment`: shifts against slicing by hand, mirrors, determinism, tables refused."""

from __future__ import annotations

import pytest
import torch

from mdlnas.errors import ConfigError
from mdlnas.train.augment import augment_batch, check_augment, max_shift, shifted


def _by_hand(x: torch.Tensor, offsets: torch.Tensor, pad: tuple[int, ...]) -> torch.Tensor:
    """One example at a time: zero canvas, the example pasted in, the window cut out."""
    out = torch.empty_like(x)
    for i in range(len(x)):
        sizes = [s + 2 * p for s, p in zip(x.shape[2:], pad, strict=True)]
        canvas = torch.zeros(x.shape[1], *sizes)
        inner = tuple(slice(p, p + s) for s, p in zip(x.shape[2:], pad, strict=True))
        every_channel_inner = (slice(None), *inner)
        canvas[every_channel_inner] = x[i]
        window = tuple(
            slice(int(o), int(o) + s) for o, s in zip(offsets[i], x.shape[2:], strict=True)
        )
        every_channel_window = (slice(None), *window)
        out[i] = canvas[every_channel_window]
    return out


@pytest.mark.parametrize("shape", [(5, 2, 11), (5, 3, 7, 9)])
def test_shift_is_the_zero_padded_window(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    x = torch.randn(shape)
    pad = tuple(2 for _ in shape[2:])
    offsets = torch.randint(0, 5, (shape[0], len(shape) - 2))
    assert torch.equal(shifted(x, offsets, pad), _by_hand(x, offsets, pad))
    centre = torch.full_like(offsets, 2)
    assert torch.equal(shifted(x, centre, pad), x)  # no shift at the centre


def test_max_shift_is_two_pixels_of_twenty_eight() -> None:
    assert (max_shift(28), max_shift(40), max_shift(8)) == (2, 3, 1)


def _versions(example: torch.Tensor, flips: bool) -> list[torch.Tensor]:
    pad = tuple(max_shift(s) for s in example.shape[1:])
    grid = torch.cartesian_prod(*[torch.arange(2 * p + 1) for p in pad]).view(-1, len(pad))
    found = [shifted(example[None], offset[None], pad)[0] for offset in grid]
    return found + ([v.flip(-1) for v in found] if flips else [])


@pytest.mark.parametrize("kind", ["shift", "shift-flip"])
def test_every_example_becomes_one_of_its_shifts_or_mirrors(kind: str) -> None:
    torch.manual_seed(1)
    x = torch.randn(200, 1, 6, 6)
    out = augment_batch(x, kind, torch.Generator().manual_seed(3))  # type: ignore[arg-type]
    mirrored = 0
    for before, after in zip(x, out, strict=True):
        plain = _versions(before, flips=False)
        if any(torch.equal(after, v) for v in plain):
            continue
        assert kind == "shift-flip" and any(torch.equal(after, v.flip(-1)) for v in plain)
        mirrored += 1
    if kind == "shift-flip":
        assert 70 <= mirrored <= 130  # about half (a mirror that equals a shift is rare)
    # the shifts reach both ends of the range: some example moved by the most there is
    corner = [shifted(x[i:i + 1], torch.tensor([[0, 0]]), (1, 1)) for i in range(len(x))]
    assert any(torch.equal(out[i:i + 1], c) for i, c in enumerate(corner))


def test_same_seed_same_changes_and_none_changes_nothing() -> None:
    x = torch.randn(16, 1, 40)
    a = augment_batch(x, "shift-flip", torch.Generator().manual_seed(5))
    b = augment_batch(x, "shift-flip", torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert augment_batch(x, "none", torch.Generator()) is x


def test_a_table_cannot_be_augmented() -> None:
    check_augment("shift", (1, 28, 28))
    check_augment("none", (6,))
    with pytest.raises(ConfigError, match="table of features; leave --augment at none"):
        check_augment("shift", (6,))
