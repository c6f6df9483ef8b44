"""`--device`: what `auto` and `cuda` mean under torchrun on machines with fewer GPUs than
processes. CUDA is simulated (this suite runs on CPUs): only the decision is tested, the
GPU runs themselves were checked on a GPU machine (docs/DISTRIBUTED.md)."""

from __future__ import annotations

import pytest
import torch

from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """One GPU on this (simulated) machine."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for name in ("LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_auto_is_the_gpu_for_one_process(gpus: pytest.MonkeyPatch) -> None:
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_is_the_gpu_of_each_process_when_there_are_enough(gpus: pytest.MonkeyPatch) -> None:
    gpus.setattr(torch.cuda, "device_count", lambda: 2)
    gpus.setenv("LOCAL_WORLD_SIZE", "2")
    gpus.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)


def test_auto_puts_every_process_on_the_cpu_when_gpus_are_fewer(gpus: pytest.MonkeyPatch) -> None:
    # two processes, one GPU: rank 0 could have it, but then the two would differ
    gpus.setenv("LOCAL_WORLD_SIZE", "2")
    for rank in ("0", "1"):
        gpus.setenv("LOCAL_RANK", rank)
        assert resolve_device("auto") == torch.device("cpu")


def test_cuda_with_fewer_gpus_than_processes_says_what_to_do(gpus: pytest.MonkeyPatch) -> None:
    gpus.setenv("LOCAL_WORLD_SIZE", "2")
    gpus.setenv("LOCAL_RANK", "0")
    with pytest.raises(ConfigError, match=r"2 processes .* 1 GPU.*--nproc-per-node.*--device cpu"):
        resolve_device("cuda")
