"""Whole searches under torchrun (benchmarks/scaleout.py): 2 processes with gloo on
127.0.0.1 against one process with the same global batches. BatchNorm normalises each
shard by its own statistics, so the α differ slightly from one process's (the tolerance
below); two 2-process runs agree bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.scaleout import clean_exit_runs, run, torchrun_command
from mdlnas import tomlio
from mdlnas.cli import main
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint

# no calibration (as in scaleout.EXIT_RUN): part 3 stops after epoch 1 and continues to
# epoch 2, and calibration's length depends on the epoch budget
SEARCH = ["search", "--data", "iris", "--epochs", "2", "--calibrate", "0", "--device", "cpu",
          "--no-plots", "--quiet", "--json"]
GAMMA_TOLERANCE = 0.01  # |Δγ| per edge and op after 2 epochs; measured 3e-4 (iris, mlp)
NLL_TOLERANCE = 0.01  # test NLL (nats) after 1 retraining epoch


def _gammas(run_dir: Path) -> dict[str, np.ndarray]:
    model = load_checkpoint(checkpoint_path(run_dir))["model"]
    return {k: torch.softmax(v, -1).numpy() for k, v in model.items() if "alpha" in k}


@pytest.mark.slow
def test_torchrun_search_matches_one_process_exits_cleanly_and_resumes(
    tmp_path: Path,
) -> None:
    # 1. the clean-exit benchmark, once: 2 processes, search + retraining, exit 0
    (row,) = clean_exit_runs(1, tmp_path / "exit")
    assert row["clean"], row
    two = tmp_path / "exit" / "run-00"
    assert (two / "eval.json").is_file() and (two / "model.pt").is_file()
    assert not list(two.glob("**/*.tmp"))

    # 2. one process, the same global batches: the same genotype, α within the tolerance
    one = tmp_path / "one"
    assert main([*SEARCH, "--train-epochs", "1", "--out", str(one)]) == 0
    assert (one / "genotype.json").read_text() == (two / "genotype.json").read_text()
    g1, g2 = _gammas(one), _gammas(two)
    for key in g1:
        assert np.abs(g1[key] - g2[key]).max() <= GAMMA_TOLERANCE
    # ... and the retraining of that genotype ends where one process's does
    e1, e2 = (json.loads((d / "eval.json").read_text()) for d in (one, two))
    assert e1["params"] == e2["params"]
    assert abs(e1["test_nll"] - e2["test_nll"]) <= NLL_TOLERANCE, (e1, e2)

    # 3. the same 2-process search again, stopped after epoch 1 and resumed with 2
    # processes: bit for bit the first one (reproducible, and resumable)
    again = tmp_path / "again"
    first = run(torchrun_command(2, [*SEARCH, "--search-only", "--epochs", "1",
                                     "--out", str(again)]))
    assert first["returncode"] == 0, first["stderr"][-3000:]
    assert len(load_checkpoint(checkpoint_path(again))["history"]) == 1
    tables = tomlio.load(again / "config.toml")
    tables["search"]["max_epochs"] = 2  # as if the first run had been cut short
    tomlio.write(again / "config.toml", tables)
    resumed = run(torchrun_command(2, ["search", "--resume", str(again), "--search-only",
                                       "--no-plots", "--quiet", "--json"]))
    assert resumed["returncode"] == 0, resumed["stderr"][-3000:]
    assert (again / "genotype.json").read_text() == (two / "genotype.json").read_text()
    for key, value in _gammas(two).items():
        assert np.array_equal(_gammas(again)[key], value)
