"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for the test, restored after it: the tensors of most tests are
    tiny, and extra threads only add contention (on a busy 2-core machine they made the
    suite several times slower, two threads of tiny tensors up to 15 times)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
