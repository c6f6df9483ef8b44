"""Fixtures shared by the search-space tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The tensors here are tiny: extra intra-op threads only add contention (on a busy
    2-core machine they made the suite several times slower). Restored after each test."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
