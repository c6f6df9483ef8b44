"""A search killed with SIGKILL mid-epoch and resumed ends exactly as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mdlnas.cli import main
from mdlnas.data import load_data
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint

# Small enough for a test, with epochs long enough (many small batches) to kill inside one.
SEARCH = ["search", "--data", "digits", "--n-train", "300", "--epochs", "5", "--tol", "0",
          "--batch-size", "8", "--xi", "0.1", "--search-only", "--quiet", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mdlnas", *args], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def _epochs_done(run_dir: Path) -> int:
    path = checkpoint_path(run_dir)
    return len(load_checkpoint(path)["history"]) if path.exists() else 0


def _alphas(run_dir: Path) -> dict[str, np.ndarray]:
    model = load_checkpoint(checkpoint_path(run_dir))["model"]
    return {k: v.numpy() for k, v in model.items() if "alpha" in k}


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    reference = _cli(*SEARCH, "--out", str(whole))
    victim = _cli(*SEARCH, "--out", str(killed))
    deadline = time.monotonic() + 300
    while _epochs_done(killed) < 2:  # poll; the checkpoint file is replaced atomically
        assert victim.poll() is None, victim.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.15)  # into the next epoch
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    stopped_after = _epochs_done(killed)
    assert 2 <= stopped_after < 5
    assert not (killed / "genotype.json").exists()  # it really was cut short
    _finish(reference)

    resumed = subprocess.run([sys.executable, "-m", "mdlnas", "search", "--resume", str(killed),
                              "--search-only"], env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after epoch {stopped_after}" in resumed.stderr
    assert (killed / "genotype.json").read_text() == (whole / "genotype.json").read_text()
    a, b = _alphas(whole), _alphas(killed)
    assert a and a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6)
    assert len(load_checkpoint(checkpoint_path(killed))["history"]) == 5


def test_resume_refuses_other_options_and_a_fresh_search_over_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["search", "--data", "iris", "--epochs", "1", "--search-only", "--quiet",
            "--out", str(run)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2  # a second search would overwrite the first one's checkpoint
    assert "--resume" in capsys.readouterr().err
    assert main(["search", "--resume", str(run), "--lam", "0.5"]) == 2
    assert "drop --lam" in capsys.readouterr().err
    assert main(["search", "--resume", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert "no config.toml" in capsys.readouterr().err
    # a finished search resumes to the same result at once
    before = (run / "genotype.json").read_text()
    assert main(["search", "--resume", str(run), "--search-only", "--quiet"]) == 0
    assert (run / "genotype.json").read_text() == before


def test_divergence_names_the_epoch_and_keeps_the_last_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    base = ["search", "--data", "iris", "--search-only", "--quiet", "--out", str(run),
            "--tol", "0"]
    assert main([*base, "--epochs", "2"]) == 0
    capsys.readouterr()
    good = torch.load(checkpoint_path(run), weights_only=True)
    # Poison the weights of the checkpoint: the resumed search diverges in its next epoch.
    state = good["state"]
    for key, value in state["model"].items():
        if value.is_floating_point() and "alpha" not in key:
            value.fill_(float("nan"))
    torch.save(good, checkpoint_path(run))
    config = (run / "config.toml").read_text().replace("max_epochs = 2", "max_epochs = 4")
    (run / "config.toml").write_text(config)
    assert main(["search", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "epoch 3" in err and "likely causes" in err
    assert "checkpoint of epoch 2 is kept" in err
    assert len(load_checkpoint(checkpoint_path(run))["history"]) == 2


def test_search_on_a_subset_then_retrain_on_every_training_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["search", "--data", "digits", "--n-train", "200", "--epochs", "1",
                 "--train-epochs", "1", "--quiet", "--out", str(run)]) == 0
    small = json.loads((run / "eval.json").read_text())
    subset = load_data("digits", seed=0, n_train=200)
    assert len(subset.train) == 200
    assert small["train_rows"] == 200 + len(subset.val)  # refit: and the validation part
    assert main(["train", str(run), "--n-train", "0", "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    full = json.loads((run / "eval.json").read_text())
    assert full["train_rows"] == 1797 - 359  # all but the 20 % test part (refit)
    # the saved model is scored on the same test part, under the retraining's scaling
    assert main(["evaluate", str(run), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test_accuracy"] == full["test_accuracy"]
