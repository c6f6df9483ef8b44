"""Two torchrun "nodes" on 127.0.0.1 that share no working directory, as two machines
without a shared file system (docs/DISTRIBUTED.md, "Several machines").

Node 0 runs in directory A, node 1 in directory B, both with ``--out run``: every read
and write of the run directory must happen on global rank 0, so A alone gets ``run`` and
B stays empty. A search whose node 1 is killed mid-search must stop node 0 with one line
(no traceback from inside a collective); ``--resume`` on both nodes must then finish the
search and retrain its genotype, ending where one uninterrupted process ends within the
tolerance of docs/DISTRIBUTED.md (that a resumed 2-process search equals an uninterrupted
one bit for bit is tested in benchmarks/test_scaleout.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mdlnas
from mdlnas.cli import main
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint
from mdlnas.workflow.family import read_front

# wine: the smallest table. --tol 0: no early stop, so the killed search is surely
# mid-search when its first checkpoint appears (7 more epochs to go). A family search with
# a budget: every rank draws the same λ, reads the same family and picks the same network.
EPOCHS = 8
SEARCH = ["search", "--data", "wine", "--epochs", str(EPOCHS), "--tol", "0",
          "--lam-range", "0.1:10", "--lam-points", "3", "--max-weights", "600",
          "--train-epochs", "2", "--device", "cpu", "--no-plots", "--quiet", "--json"]
# the resumed run also retrains one network of its family: under torchrun, on every rank.
# --device cpu: the two "machines" are one, and on a GPU machine they would share its GPU
RESUME = ["search", "--resume", "run", "--retrain", "1", "--device", "cpu", "--no-plots",
          "--quiet", "--json"]
NLL_TOLERANCE = 0.01  # test NLL (nats) of 2 processes against 1 (docs/DISTRIBUTED.md)
# torch prints a worker's uncaught traceback line by line behind this prefix
WORKER_TRACEBACK = "]: Traceback"


# The one-process reference runs in this process on one thread, as the nodes run.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment() -> dict[str, str]:
    # the nodes run in other directories: give them this mdlnas by absolute path
    source = str(Path(mdlnas.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def _start_nodes(directories: tuple[Path, Path], args: list[str]) -> list[subprocess.Popen[str]]:
    """Node r of 2 (one process each) in ``directories[r]``, with a static rendezvous."""
    port = _free_port()
    nodes = []
    for node, cwd in enumerate(directories):
        cwd.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
                   "--nproc-per-node", "1", "--node-rank", str(node),
                   "--master-addr", "127.0.0.1", "--master-port", str(port),
                   "-m", "mdlnas", *args]
        nodes.append(subprocess.Popen(command, cwd=cwd, env=_environment(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return nodes


def _finish(nodes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    results = []
    for node in nodes:
        out, err = node.communicate(timeout=300)
        results.append((node.returncode, out, err))
    return results


def _eval(run_dir: Path) -> dict[str, float]:
    scores: dict[str, float] = json.loads((run_dir / "eval.json").read_text())
    scores.pop("train_seconds")
    return scores


def _epochs_done(run_dir: Path) -> int:
    path = checkpoint_path(run_dir)
    return len(load_checkpoint(path)["history"]) if path.is_file() else 0


@pytest.mark.slow
def test_two_nodes_without_a_shared_directory_search_resume_and_retrain(
    tmp_path: Path,
) -> None:
    # 1. a search on 2 nodes, node 1 killed mid-search: node 0 stops by itself, with one
    # line and no traceback from inside a collective
    a, b = tmp_path / "A", tmp_path / "B"
    node0, node1 = _start_nodes((a, b), [*SEARCH, "--out", "run"])
    deadline = time.monotonic() + 120
    while _epochs_done(a / "run") < 1:  # the checkpoint file is replaced atomically
        assert node0.poll() is None and node1.poll() is None, node0.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    node1.send_signal(signal.SIGTERM)  # torchrun passes it on to its worker
    (_, _, err0), _ = _finish([node0, node1])
    assert node0.returncode != 0
    stopped_after = _epochs_done(a / "run")
    assert 1 <= stopped_after < EPOCHS
    assert not (a / "run" / "genotype.json").exists()
    ours = [line for line in err0.splitlines() if line.startswith("mdlnas: error:")]
    assert len(ours) == 1 and "another process" in ours[0], err0[-3000:]
    assert WORKER_TRACEBACK not in err0, err0[-3000:]
    assert list(b.iterdir()) == []

    # 2. --resume on both nodes, node 1 again without the run directory: the search
    # finishes and the genotype is retrained; both exit 0 and only A holds the run
    (code0, out0, err0), (code1, out1, err1) = _finish(_start_nodes((a, b), RESUME))
    assert code0 == 0 and code1 == 0, (err0[-3000:], err1[-3000:])
    assert WORKER_TRACEBACK not in err0 + err1
    assert json.loads(out0)["eval"]["params"] > 0 and out1 == ""  # rank 0 reports
    assert sorted(p.name for p in a.iterdir()) == ["run"]
    assert list(b.iterdir()) == []
    for name in ("config.toml", "genotype.json", "summary.json", "eval.json", "model.pt",
                 "front.csv"):
        assert (a / "run" / name).is_file(), name
    assert json.loads((a / "run" / "summary.json").read_text())["epochs_run"] == EPOCHS
    assert sum(row["test_metric"] is not None for row in read_front(a / "run")) == 1

    # 3. ... and it ends where one uninterrupted process ends (BatchNorm's per-shard
    # statistics aside)
    one = tmp_path / "one"
    assert main([*SEARCH, "--out", str(one)]) == 0
    assert (one / "genotype.json").read_text() == (a / "run" / "genotype.json").read_text()
    assert (one / "front.csv").read_text().count(".json") == 3
    e1, e2 = _eval(one), _eval(a / "run")
    assert e1["params"] == e2["params"]
    assert abs(e1["test_nll"] - e2["test_nll"]) <= NLL_TOLERANCE, (e1, e2)
