"""Shared fixtures for the data-layer tests: an isolated cache and memoised loads."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from functools import lru_cache

import pytest

from mdlnas.data import DataBundle, load_data
from mdlnas.data.cache import CACHE_ENV


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("the data layer tried to use the network; it must work offline")


@pytest.fixture(scope="session")
def _cache_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.fspath(tmp_path_factory.mktemp("mdlnas-cache"))


@pytest.fixture(scope="module", autouse=True)
def _offline_with_isolated_cache(_cache_path: str) -> Iterator[None]:
    """Every data test runs without network (so mnist1d generation, sklearn and the IDX
    reader are shown to be offline) and never touches the user's real cache. Module scope:
    the patches end with the data tests instead of leaking into other test packages."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, _cache_path)
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        yield


@pytest.fixture(scope="session")
def load_once() -> Callable[..., DataBundle]:
    """``load_data`` memoised per arguments: the large sets are loaded once per session.
    Bundles are frozen and tests only read them, so sharing is safe."""
    return lru_cache(maxsize=None)(load_data)
