"""`--tensorboard`: a clear error without the optional package, event files with it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mdlnas.cli import main

SEARCH = ["search", "--data", "iris", "--epochs", "1", "--train-epochs", "1", "--channels",
          "4", "--no-plots", "--quiet"]


def test_without_the_package_the_error_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A None entry makes `import torch.utils.tensorboard` raise ImportError, as it does
    # when the tensorboard package is missing.
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    out = tmp_path / "run"
    assert main([*SEARCH, "--tensorboard", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mdlnas: error: --tensorboard needs the tensorboard package")
    assert "pip install tensorboard" in err and err.count("\n") == 1
    assert not out.exists()  # refused before any work


def test_event_files_hold_the_search_gammas_and_retraining(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert main([*SEARCH, "--tensorboard", "--out", str(out)]) == 0
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    tags = EventAccumulator(str(out / "tensorboard")).Reload().Tags()["scalars"]
    for tag in ("search/val_nll", "search/description_length_bits", "search/alpha_entropy",
                "search/w_lr", "gamma/normal/0-1/linear", "retrain/train_loss"):
        assert tag in tags, tag
