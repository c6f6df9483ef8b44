"""Data parallelism over the processes that ``torchrun`` starts (one per device).

Every rank loads the whole dataset and draws the same batches from the same seeded
generators; rank ``r`` computes only on its shard (a slice of rows) of each batch. The
gradients of the weights and of α are averaged over the ranks, so every rank applies the
same update to the same parameters and the ranks stay in lock-step: rank 0 holds the
state that one process would hold, up to BatchNorm and rounding (docs/RELIABILITY.md).

Scaling (the objective of docs/METHOD.md). One process minimises ``mean_B NLL + λ·DL/m``
on a batch ``B``. Rank ``r`` with ``b_r`` of the ``|B|`` rows minimises
``(N·b_r/|B|)·mean_r NLL + λ·DL/m``; the average of these over the ``N`` ranks is exactly
the one-process objective, so averaged gradients are the one-process gradient. The
description length is *not* multiplied by ``N``: each rank carries all of it and the
average keeps one copy.

Files. The ranks may run on machines that share no file system, so every file that a
command running under torchrun reads or writes (the run directory, a config file, the
data) is read or written by global rank 0 alone: :func:`on_main` for what the others
need (it is sent to them), :func:`main_only` for writes and reports. Both tell every rank
whether rank 0 succeeded, so a failure there stops all ranks at the same point.

Failures. An error raised on one rank must end the job on all ranks with one line, never
with the others waiting in (or a traceback from) a collective: :func:`on_main`,
:func:`main_only` and :func:`everywhere` share the error; a rank that stops on its own
(killed, out of memory) makes the others' next collective fail, and every collective
here turns that into :class:`PeerLost`.

Without a process group (a plain ``mdlnas`` run) every function here is a no-op that
returns its input, so the single-process path is unchanged bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn

from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, MdlnasError

T = TypeVar("T")


class ReportedByMain(MdlnasError):
    """An error that rank 0 also raised and prints; the other ranks exit without repeating it."""


class PeerLost(MdlnasError):
    """A collective failed: another rank has stopped (or cannot be reached), so this one
    stops too. The rank that stopped first says why in its own output."""


@contextlib.contextmanager
def _collective(what: str) -> Iterator[None]:
    """Name a failed collective in one line. gloo and nccl raise RuntimeError (with a
    C++ source location and advice) when a peer has gone; the traceback from inside
    torch would hide the line that the failing rank printed."""
    try:
        yield
    except RuntimeError as exc:
        raise PeerLost(
            f"another process of this job has stopped or cannot be reached ({what}: "
            f"{_first_sentence(exc)}); its own output says why"
        ) from exc


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if text.startswith("[") and "] " in text:  # gloo's "[.../pair.cc:553] Connection ..."
        text = text.split("] ", 1)[1]
    return text.split(". ")[0].rstrip(".") or type(exc).__name__


def launched() -> bool:
    """Whether this process is one of several that torchrun (or an equivalent) started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Rank 0 alone writes files and prints progress."""
    return rank() == 0


@contextlib.contextmanager
def session(device: str = "auto") -> Iterator[None]:
    """Join the process group described by torchrun's environment for the length of the
    block, and leave it properly: gloo aborted at process exit here when the group was not
    destroyed. Outside torchrun (or when the caller already made a group) it does nothing."""
    if not launched() or dist.is_initialized():
        yield
        return
    target = resolve_device(device)  # under torchrun: cuda:LOCAL_RANK, see resolve_device
    # With a GPU per process, NCCL for CUDA tensors and gloo for CPU ones: a run resumed
    # without --device keeps the device it saved (the CPU, say) while the group was chosen
    # from `auto`, and each collective then goes to the backend of its tensors' device.
    backend = "cpu:gloo,cuda:nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    try:
        dist.init_process_group(backend, device_id=target if target.type == "cuda" else None)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot join the {backend} process group ({first}); start mdlnas with torchrun "
            "(docs/DISTRIBUTED.md) and check --master-addr / --rdzv-endpoint and the port"
        ) from None
    try:
        yield
        # not after an error: the others may be anywhere, no barrier to hang on
        with _collective("the final barrier"):
            dist.barrier()
    finally:
        dist.destroy_process_group()


# -- shards ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """This rank's rows ``start:stop`` of a batch of ``total`` rows."""

    start: int
    stop: int
    total: int
    world: int

    @property
    def nll_weight(self) -> float:
        """``N·b_r/|B|``: the factor that makes the ranks' averaged mean NLL the mean over
        the whole batch (exactly 1.0 for one process)."""
        return self.world * (self.stop - self.start) / self.total

    def rows(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return x[self.start : self.stop], y[self.start : self.stop]


def shard(total: int) -> Shard:
    """This rank's part of a batch of ``total`` rows: contiguous, sizes differ by at most 1."""
    n, r = world_size(), rank()
    base, extra = divmod(total, n)
    start = r * base + min(r, extra)
    return Shard(start, start + base + (1 if r < extra else 0), total, n)


def min_batch_rows() -> int:
    """The smallest batch worth a step: every rank needs 2 rows (BatchNorm cannot normalise
    one), as the single process needs 2."""
    return 2 * world_size()


# -- collectives -------------------------------------------------------------------------
def average(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The mean over ranks of each tensor, in one collective; new tensors, so tensors that
    autograd saved are never overwritten in place."""
    if world_size() == 1:
        return list(tensors)
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    with _collective("averaging over the processes"):
        dist.all_reduce(flat)
    flat /= world_size()
    parts = torch.split(flat, [t.numel() for t in tensors])
    return [part.view_as(t) for part, t in zip(parts, tensors, strict=True)]


def average_gradients(params: Sequence[Tensor], extras: Sequence[Tensor]) -> list[float]:
    """Replace every ``.grad`` by its mean over ranks and return the means of ``extras``
    (scalars such as the loss), sent in the same collective to save a round trip."""
    if world_size() == 1:
        return [float(e.detach()) for e in extras]
    with_grad = [p for p in params if p.grad is not None]  # the same set on every rank
    grads = [cast(Tensor, p.grad) for p in with_grad]
    averaged = average([*grads, *(e.detach().reshape(1) for e in extras)])
    for p, g in zip(with_grad, averaged, strict=False):
        cast(Tensor, p.grad).copy_(g)
    return [float(e) for e in averaged[len(with_grad) :]]


def average_buffers(model: nn.Module) -> None:
    """Average floating buffers (BatchNorm's running statistics, which each rank gathers on
    its own shards) so that every rank evaluates and saves the same model."""
    if world_size() == 1:
        return
    buffers = [b for b in model.buffers() if b.is_floating_point()]
    if buffers:
        for b, mean in zip(buffers, average(buffers), strict=True):
            b.copy_(mean)


def check_lockstep(epoch: int, params: Sequence[Tensor]) -> None:
    """Fail loudly if the ranks' parameters differ (they never should)."""
    if world_size() == 1:
        return
    with torch.no_grad():
        mine = (epoch, float(sum(p.double().sum() for p in params)))
    seen: list[object] = [None] * world_size()
    with _collective("the lock-step check"):
        dist.all_gather_object(seen, mine)
    if any(other != mine for other in seen):
        raise MdlnasError(
            f"the {world_size()} processes drifted apart after epoch {epoch} "
            f"(epoch, parameter sum per rank: {seen}); this is a bug in mdlnas, please report it"
        )


# -- the hooks a search step takes ----------------------------------------------------------
class OneProcess:
    """What data parallelism asks of a search step, for one process: the whole batch is
    this process's and there is nothing to average. A step takes it as an argument
    (``parallel``), so the method reads without torchrun; :class:`ProcessGroup` is the
    torchrun version."""

    @property
    def world(self) -> int:
        """How many processes share each batch."""
        return 1

    def shard(self, total: int) -> Shard:
        return Shard(0, total, total, 1)

    def min_batch_rows(self) -> int:
        return 2  # BatchNorm cannot normalise one row

    def average(self, tensors: Sequence[Tensor]) -> list[Tensor]:
        return list(tensors)

    def average_gradients(self, params: Sequence[Tensor], extras: Sequence[Tensor]) -> list[float]:
        return [float(e.detach()) for e in extras]

    def average_buffers(self, model: nn.Module) -> None:
        return None

    def check_lockstep(self, epoch: int, params: Sequence[Tensor]) -> None:
        return None


class ProcessGroup(OneProcess):
    """The ranks of the current process group: each steps on its shard of every batch and
    the gradients are averaged (the functions above)."""

    @property
    def world(self) -> int:
        return world_size()

    def shard(self, total: int) -> Shard:
        return shard(total)

    def min_batch_rows(self) -> int:
        return min_batch_rows()

    def average(self, tensors: Sequence[Tensor]) -> list[Tensor]:
        return average(tensors)

    def average_gradients(self, params: Sequence[Tensor], extras: Sequence[Tensor]) -> list[float]:
        return average_gradients(params, extras)

    def average_buffers(self, model: nn.Module) -> None:
        average_buffers(model)

    def check_lockstep(self, epoch: int, params: Sequence[Tensor]) -> None:
        check_lockstep(epoch, params)


def data_parallel() -> OneProcess:
    """The hooks for this process: :class:`ProcessGroup` inside a process group of several
    ranks, else :class:`OneProcess`."""
    return ProcessGroup() if world_size() > 1 else OneProcess()


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 alone (reading a file that may exist only there) and give
    every rank its result, or its error."""
    return cast(T, _from_main(fn, send=True))


def main_only(fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on rank 0 alone (writing a file, printing, drawing) and tell every rank
    whether it succeeded: its result on rank 0, None on the others, and its error on all.
    The others wait until rank 0 is done, so a file written here is complete after it."""
    return _from_main(fn, send=False)


def _from_main(fn: Callable[[], T], send: bool) -> T | None:
    if world_size() == 1:
        return fn()
    payload: list[object] = [None]
    error: Exception | None = None
    value: T | None = None
    if is_main():
        try:
            value = fn()
            payload[0] = (True, value if send else None)  # a write's result stays here
        except Exception as exc:
            error = exc
            payload[0] = (False, str(exc))
    with _collective("sharing rank 0's reads and writes"):
        dist.broadcast_object_list(payload, src=0)
    ok, sent = cast(tuple[bool, object], payload[0])
    if error is not None:
        raise error
    if not ok:
        raise ReportedByMain(str(sent))
    return value if is_main() else cast("T | None", sent)


def everywhere(fn: Callable[[], T]) -> T:
    """Run ``fn`` on every rank; if it fails on any, it fails on all, with the first
    failing rank's message, instead of leaving the others waiting in a collective."""
    if world_size() == 1:
        return fn()
    result: T | None = None
    error: Exception | None = None
    try:
        result = fn()
    except Exception as exc:
        error = exc
    outcomes: list[object] = [None] * world_size()
    with _collective("gathering the processes' outcomes"):
        dist.all_gather_object(outcomes, None if error is None else str(error))
    failed = [(r, msg) for r, msg in enumerate(outcomes) if msg is not None]
    if failed:
        if is_main():
            if error is not None:
                raise error
            first, message = failed[0]
            raise MdlnasError(f"on rank {first} of {world_size()}: {message}")
        raise ReportedByMain(str(failed[0][1]))
    return cast(T, result)


def barrier() -> None:
    """Wait for every rank (e.g. until rank 0 has written the run directory)."""
    if world_size() > 1:
        with _collective("a barrier"):
            dist.barrier()
