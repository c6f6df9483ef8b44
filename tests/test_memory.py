"""``keep_freed_memory`` (issue 7): freed blocks stay in the process instead of going
back to the kernel. Run in a child process, since it changes that process's allocator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = """
import json, os, sys
import torch
from mdlnas.memory import freed_memory_kept, keep_freed_memory
kept_before = freed_memory_kept()
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
block = torch.ones(4 * 2**20)  # 16 MiB, written so that its pages are resident
before = rss_mb()
del block
after = rss_mb()
print(json.dumps({"applied": applied, "released_mb": before - after,
                  "kept_before": kept_before, "kept_after": freed_memory_kept()}))
"""


def _child(mode: str, env: dict[str, str] | None = None) -> dict[str, float | bool]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                         check=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_stays_in_the_process() -> None:
    default, kept = _child("default"), _child("keep")
    assert kept["applied"] is True
    assert (kept["kept_before"], kept["kept_after"]) == (False, True)
    assert default["kept_after"] is False
    assert default["released_mb"] > 12  # glibc unmaps a 16 MiB block when it is freed
    assert kept["released_mb"] < 4  # ... and keeps it in the heap for the next step


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_can_be_turned_off() -> None:
    result = _child("keep", {"MDLNAS_KEEP_MEMORY": "0"})
    assert result["applied"] is False and result["kept_after"] is False
    assert result["released_mb"] > 12
