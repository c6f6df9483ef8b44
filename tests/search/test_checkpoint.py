"""Checkpoints: a search restored from one continues exactly as if never stopped."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mdlnas.config import SearchConfig, SpaceConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.errors import SearchError
from mdlnas.search.checkpoint import load_checkpoint, save_checkpoint
from mdlnas.search.darts import BilevelSearch

SPACE = SpaceConfig("mlp", 0, ("linear", "linear_bottleneck", "identity", "zero"), 2, 1, 8)
CONV_SPACE = SpaceConfig("conv1d", 1, ("conv_3", "max_pool_3", "identity", "zero"), 2, 2, 4,
                         (1,))


def blobs(n: int = 200) -> DataBundle:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = (rng.normal(0, 2, (3, 4))[y] + rng.normal(0, 1, (n, 4))).astype(np.float32)
    parts = [slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)]
    train, val, test = (Split(x[p], y[p].astype(np.int64)) for p in parts)
    return DataBundle("blobs", "classification", train, val, test, (4,), 3)


def _config(**kw: object) -> SearchConfig:
    base: dict[str, object] = {"max_epochs": 4, "batch_size": 32, "device": "cpu", "tol": 0.0,
                               "xi": 0.1, "calibration_epochs": 0}
    base.update(kw)
    return SearchConfig(**base)  # type: ignore[arg-type]


def _alphas(state: BilevelSearch) -> list[np.ndarray]:
    return [a.detach().numpy().copy() for a in state.model.arch_parameters()]


@pytest.mark.parametrize("phases", [{}, {"warmup_epochs": 2},
                                    {"warmup_epochs": 1, "calibration_epochs": 3,
                                     "calibration_tol": 1e-9},
                                    # sampled paths: the draws come from the noise stream
                                    {"calibration_epochs": 1, "relaxation": "gumbel"},
                                    {"calibration_epochs": 1, "relaxation": "reinforce",
                                     "paths": 2, "weight_paths": "uniform"},
                                    # a family: λ is drawn from a stream of its own
                                    {"calibration_epochs": 1, "lam_range": "0.1:10"}])
def test_restored_search_matches_an_uninterrupted_one(
    tmp_path: Path, phases: dict[str, object]
) -> None:
    data, cfg = blobs(), _config(max_epochs=8, **phases)
    whole = BilevelSearch(data, SPACE, cfg)
    while not whole.finished:
        whole.run_epoch()

    first = BilevelSearch(data, SPACE, cfg)
    for _ in range(3):
        first.run_epoch()
    path = tmp_path / "checkpoints" / "search.pt"
    save_checkpoint(path, first.state_dict())
    torch.manual_seed(12345)  # whatever happens in between must not matter
    second = BilevelSearch(data, SPACE, cfg)
    second.load_state_dict(load_checkpoint(path))
    assert second.epoch == 3
    while not second.finished:
        second.run_epoch()

    for a, b in zip(_alphas(whole), _alphas(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole.genotype() == second.genotype()
    assert [r.val_nll for r in whole.history] == [r.val_nll for r in second.history]
    assert [r.phase for r in whole.history] == [r.phase for r in second.history]
    assert not list(path.parent.glob("*.tmp"))  # the temporary file was renamed away


def test_checkpoint_keeps_batch_norm_statistics_and_optimiser_moments(tmp_path: Path) -> None:
    bundle = _signal_bundle()
    state = BilevelSearch(bundle, CONV_SPACE, _config(max_epochs=1, batch_size=16))
    state.run_epoch()
    path = tmp_path / "c.pt"
    save_checkpoint(path, state.state_dict())
    restored = BilevelSearch(bundle, CONV_SPACE, _config(max_epochs=1, batch_size=16))
    restored.load_state_dict(load_checkpoint(path))
    for (name, a), (_, b) in zip(state.model.state_dict().items(),
                                 restored.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert any("running_mean" in k for k in state.model.state_dict())
    moments = restored.w_opt.state_dict()["state"]
    assert moments and all(torch.equal(moments[k]["exp_avg"],
                                       state.w_opt.state_dict()["state"][k]["exp_avg"])
                           for k in moments)


def _signal_bundle() -> DataBundle:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 1, 12)).astype(np.float32)
    y = (x[:, 0, :6].sum(-1) > 0).astype(np.int64)
    parts = [slice(0, 48), slice(48, 72), slice(72, 96)]
    train, val, test = (Split(x[p], y[p]) for p in parts)
    return DataBundle("signals", "classification", train, val, test, (1, 12), 2)


def test_missing_checkpoint_says_there_is_nothing_to_resume(tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="nothing to resume"):
        load_checkpoint(tmp_path / "checkpoints" / "search.pt")


def test_truncated_checkpoint_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "search.pt"
    state = BilevelSearch(blobs(), SPACE, _config(max_epochs=1))
    save_checkpoint(path, state.state_dict())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SearchError, match="cannot load the checkpoint"):
        load_checkpoint(path)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "search.pt"
    with path.open("wb") as f:
        pickle.dump({"format": "mdlnas.search-checkpoint", "version": 1,
                     "state": _RunsCode(marker)}, f, protocol=2)
    with pytest.raises(SearchError, match="safely"):
        load_checkpoint(path)
    assert not marker.exists()


def test_foreign_file_is_not_taken_for_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "search.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(SearchError, match="not an mdlnas search checkpoint"):
        load_checkpoint(path)
