"""Fixtures shared by the search-space tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread: None) -> None:
    """Every search-space test runs on one thread (tests/conftest.py says why)."""
