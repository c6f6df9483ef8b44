"""Data parallelism (docs/DISTRIBUTED.md): 2 processes with gloo on 127.0.0.1.

The gradients are checked exactly on the real supernet with BatchNorm out of the way
(evaluation mode, noise forced on), so only the scaling and the shards' noise are tested.
Whole searches under torchrun are compared with one process in
``benchmarks/test_scaleout.py``.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mdlnas import distributed
from mdlnas.cli import main
from mdlnas.config import BayesConfig
from mdlnas.errors import MdlnasError
from mdlnas.search.functional import evaluate_free_energy, make_objective
from mdlnas.search.hypergradient import hypergradient
from mdlnas.space.presets import make_space
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise, noise_rows, sampling

# A batch of 11 rows: the two shards (6 and 5 rows) differ in size, so the NLL weighting
# by the shard's share is tested, not only the plain mean.
ROWS, LAM, M = 11, 1.0, 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _problem() -> tuple[Supernet, tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    model = Supernet(make_space("mlp"), (4,), 3, "classification", BayesConfig())
    model.eval()  # BatchNorm on running statistics: every row is computed on its own
    g = torch.Generator().manual_seed(1)
    batch = (torch.randn(ROWS, 4, generator=g), torch.randint(0, 3, (ROWS,), generator=g))
    val = (torch.randn(ROWS, 4, generator=g), torch.randint(0, 3, (ROWS,), generator=g))
    return model, batch, val


def _gradients() -> dict[str, Any]:
    """The α hypergradient (first order, exact and finite-difference second order) and the
    weight gradient of the search's weight step, on this process's shard, averaged."""
    model, batch, val = _problem()
    weights, alphas = model.weight_parameters(), model.arch_parameters()
    out: dict[str, Any] = {}
    with sampling():  # the variational noise stays on in evaluation mode
        for name, xi, method in (("first", 0.0, "exact"), ("exact", 0.1, "exact"),
                                 ("fd", 0.1, "fd")):
            f_train = make_objective(model, *batch, lam=LAM, m=M, noise_seed=2,
                                     shard=distributed.shard(ROWS))
            f_val = make_objective(model, *val, lam=LAM, m=M, noise_seed=3,
                                   shard=distributed.shard(ROWS))
            out[name] = hypergradient(f_train, f_val, weights, alphas, xi, method,
                                      reduce=distributed.average)
        part = distributed.shard(ROWS)
        with common_noise(4), noise_rows(part.start, part.total):
            energy = evaluate_free_energy(model, *part.rows(*batch), lam=LAM, m=M,
                                          nll_weight=part.nll_weight)
    torch.autograd.backward(energy.total)
    out["loss"] = distributed.average_gradients(weights, [energy.total])
    out["weights"] = [p.grad.clone() for p in weights if p.grad is not None]
    return out


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    # a timeout, so that a collective waiting for a rank that left cannot hang the test
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    try:
        result = _gradients()

        def fails_on_rank_1() -> int:
            if rank == 1:
                raise MdlnasError("no such file on this node")
            return rank

        try:
            distributed.everywhere(fails_on_rank_1)
        except MdlnasError as exc:
            result["error"] = (type(exc).__name__, str(exc))
        result["main_only"] = distributed.main_only(lambda: "written")

        def fails_on_rank_0() -> None:
            raise MdlnasError("the disk of rank 0 is full")

        try:
            distributed.main_only(fails_on_rank_0)
        except MdlnasError as exc:
            result["main_error"] = (type(exc).__name__, str(exc))
        if rank == 0:  # rank 1 has left: the next collective fails in one line
            try:
                distributed.barrier()
            except MdlnasError as exc:
                result["lost"] = (type(exc).__name__, str(exc))
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_shards_give_the_gradients_of_the_whole_batch(tmp_path: Path) -> None:
    """Averaged over 2 ranks, every gradient equals one process's on the whole batch:
    the description length counts once, the NLL by the shards' shares, and each shard
    sees the whole batch's noise for its rows. A failure on one rank reaches both; a rank
    that has gone makes the other's next collective fail with one line."""
    whole = _gradients()
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for name in ("first", "exact", "fd", "weights"):
        for mine, ref in zip(ranks[0][name], whole[name], strict=True):
            scale = float(ref.abs().max()) + 1e-12
            assert float((mine - ref).abs().max()) <= 1e-4 * scale, name
        for a, b in zip(ranks[0][name], ranks[1][name], strict=True):
            assert torch.equal(a, b), name  # the ranks step in lock-step
    assert ranks[0]["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert ranks[0]["error"] == ("MdlnasError", "on rank 1 of 2: no such file on this node")
    assert ranks[1]["error"] == ("ReportedByMain", "no such file on this node")
    # what rank 0 alone does: its result stays there, its failure reaches every rank
    assert (ranks[0]["main_only"], ranks[1]["main_only"]) == ("written", None)
    assert ranks[0]["main_error"] == ("MdlnasError", "the disk of rank 0 is full")
    assert ranks[1]["main_error"] == ("ReportedByMain", "the disk of rank 0 is full")
    kind, message = ranks[0]["lost"]
    assert kind == "PeerLost" and "another process of this job has stopped" in message
    assert "\n" not in message and "pair.cc" not in message  # gloo's source location is cut


def test_only_search_and_train_run_under_torchrun(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[rank 1 of 2]" in err and "as one process" in err
