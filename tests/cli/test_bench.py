"""`mdlnas bench step-cost`: the report's keys, that the ratios are the steps over the
forward+backward, that the FLOP counts are those of the steps, and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from mdlnas.cli import main
from mdlnas.errors import ConfigError
from mdlnas.memory import freed_memory_kept
from mdlnas.workflow.bench import STEPS, StepCostConfig, matmul_peak_gflops, timing_order

KEYS = ("fwd_bwd_ms", "first_order_step_ms", "second_order_exact_step_ms",
        "second_order_fd_step_ms", "ratio_first", "ratio_second_exact", "ratio_second_fd",
        "peak_rss_mb")


def _main_one_thread(argv: list[str]) -> int:
    previous = torch.get_num_threads()  # --threads sets it for the whole process
    try:
        return main(argv)
    finally:
        torch.set_num_threads(previous)


def test_step_cost_json(capsys: pytest.CaptureFixture[str]) -> None:
    space = "mlp"  # the conv spaces run the same code, 4x slower: not worth the suite's time
    argv = ["bench", "step-cost", "--space", space, "--batch-size", "4", "--repeats", "2",
            "--warmup", "1", "--threads", "1", "--device", "cpu", "--json"]
    assert _main_one_thread(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(KEYS) <= report.keys()
    assert report["space"] == space and report["threads"] == 1
    assert all(report[k] > 0 for k in KEYS)
    for ratio, step in (("ratio_first", "first_order"),
                        ("ratio_second_exact", "second_order_exact"),
                        ("ratio_second_fd", "second_order_fd")):
        assert report[ratio] == pytest.approx(report[f"{step}_step_ms"] / report["fwd_bwd_ms"])
        assert report[f"{step}_step_gflops"] == pytest.approx(
            report[f"{step}_step_gflop"] / report[f"{step}_step_ms"] * 1000)
    # the steps do more matrix work than one forward+backward, second order most
    assert report["fwd_bwd_gflop"] < report["first_order_step_gflop"]
    assert report["first_order_step_gflop"] < report["second_order_exact_step_gflop"]
    assert report["meets_targets"] == (report["ratio_first"] <= 2.3
                                       and report["ratio_second_exact"] <= 4.5)
    # the divisor of the ratios is timed next to every step: three samples a repeat
    assert report["fwd_bwd_samples"] == 3 * report["repeats"]
    # the command keeps freed memory (it changes step times), and the report says so
    assert report["freed_memory_kept"] is freed_memory_kept()


def test_step_cost_text(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "step-cost", "--space", "mlp", "--batch-size", "4", "--repeats", "1",
            "--warmup", "0", "--deterministic", "--threads", "1", "--device", "cpu"]
    assert _main_one_thread(argv) == 0
    out = capsys.readouterr().out
    assert "forward+backward" in out and "second order exact" in out and "GFLOP/s" in out
    assert "freed memory kept" in out
    assert "median of 3, one before each step" in out  # one repeat


def test_each_step_is_timed_right_after_a_forward_backward() -> None:
    order = timing_order(STEPS)
    assert order[1::2] == list(STEPS)
    assert order[::2] == ["fwd_bwd"] * len(STEPS)


def test_matmul_peak_is_a_rate() -> None:
    assert matmul_peak_gflops(64, torch.device("cpu"), repeats=2) > 0


@pytest.mark.parametrize(("argv", "words"), [
    (["bench"], "name a benchmark"),
    (["bench", "step-cost", "--space", "mlp", "--repeats", "0"], "repeats"),
    (["bench", "step-cost", "--space", "mlp", "--batch-size", "1"], "batch_size"),
    (["bench", "step-cost", "--space", "mlp", "--threads", "0"], "--threads"),
    (["bench", "search-cost", "--space", "mlp", "--n-train", "0"], "--n-train"),
])
def test_bad_input_one_line_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mdlnas: error:") and words in err and err.count("\n") == 1


def test_config_refuses_a_first_order_xi() -> None:
    with pytest.raises(ConfigError, match="xi"):
        StepCostConfig(xi=0.0)


# -- search-cost -------------------------------------------------------------------------
def test_search_cost_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Every relaxation and order is timed, and each ratio is its search epoch over the
    training epoch measured in the same run."""
    argv = ["bench", "search-cost", "--space", "mlp", "--n-train", "60", "--epochs", "1",
            "--warmup", "0", "--threads", "1", "--device", "cpu", "--json"]
    assert _main_one_thread(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["data"] == "digits" and report["train_rows"] == 60
    kinds = {f"{r}_{o}" for r in ("softmax", "softmax_partial4", "gumbel", "reinforce")
             for o in ("first_order", "second_order_exact")}
    assert set(report["search_epoch_s"]) == set(report["ratio"]) == kinds
    for kind in kinds:
        assert report["search_epoch_s"][kind] > 0
        assert report["ratio"][kind] == pytest.approx(
            report["search_epoch_s"][kind] / report["train_epoch_s"])


def test_darts_sized_network_has_two_edges_per_node() -> None:
    """Node 1 has one possible input, every later node its two nearest; the op is the
    space's first parametric one, in both cells."""
    from mdlnas.data.bundle import DataBundle, Split
    from mdlnas.space.presets import make_space
    from mdlnas.workflow.search_cost import darts_sized_genotype

    space = make_space("conv1d")
    part = Split(torch.zeros(4, 1, 40).numpy(), torch.zeros(4, dtype=torch.long).numpy())
    data = DataBundle("d", "classification", part, part, part, (1, 40), 10)
    genotype = darts_sized_genotype(space, data)
    assert genotype.reduce == genotype.normal
    assert [(e.src, e.dst) for e in genotype.normal.edges] == [(0, 1), (0, 2), (1, 2), (1, 3),
                                                               (2, 3)]
    assert {e.op for e in genotype.normal.edges} == {"conv_3"}


def test_search_cost_refuses_bad_epochs() -> None:
    from mdlnas.workflow.search_cost import SearchCostConfig

    with pytest.raises(ConfigError, match="epochs"):
        SearchCostConfig(epochs=0)
    with pytest.raises(ConfigError, match="warmup"):
        SearchCostConfig(warmup=-1)
