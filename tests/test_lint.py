"""ruff and mypy are part of the suite, so a lint regression fails CI like a bug."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


# The tools of the interpreter running the tests (.venv/bin/python -m pytest need not have
# .venv/bin on PATH).
@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is installed by setup.sh --dev"
)
def test_ruff_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "src", "tests", "examples", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def _numpy_version() -> tuple[int, int]:
    import numpy

    major, minor = numpy.__version__.split(".")[:2]
    return int(major), int(minor)


# The code writes a bare np.ndarray, which numpy's stubs accept from 2.3 on (type parameters
# with defaults); numpy 2.3 needs Python 3.11, so on 3.10 strict mypy would flag every one.
@pytest.mark.skipif(
    _numpy_version() < (2, 3), reason="mypy is checked with numpy >= 2.3 (Python 3.11+)"
)
def test_mypy_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
