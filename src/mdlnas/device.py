"""Turning ``--device auto|cpu|cuda`` into a torch device; nothing is hard-coded."""

from __future__ import annotations

import os

import torch

from mdlnas.errors import ConfigError


def _processes_on_this_machine() -> int:
    """How many processes torchrun started on this machine (1 outside torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def gpu_per_process() -> bool:
    """Whether CUDA is here and each process on this machine can have a GPU of its own
    (NCCL refuses two ranks on one GPU). Every rank of a machine gets the same answer, so
    ``auto`` puts them all on the GPUs or all on the CPU, never some on each."""
    return torch.cuda.is_available() and _processes_on_this_machine() <= torch.cuda.device_count()


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when it is available (under torchrun: when every process on
    this machine gets a GPU of its own) and the CPU otherwise. Under torchrun
    (``LOCAL_RANK`` set) a plain ``cuda`` means this process's own GPU, ``cuda:LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if gpu_per_process() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} was asked for but CUDA is not available here; "
            "use --device cpu or --device auto"
        )
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda") from exc
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        if not gpu_per_process():
            raise ConfigError(
                f"torchrun started {_processes_on_this_machine()} processes on this machine "
                f"but it has {torch.cuda.device_count()} GPU(s); start at most that many "
                "(--nproc-per-node) or run on the CPU with --device cpu"
            )
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device
