"""The same seed gives the same genotype, α and metrics on the CPU; another seed does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mdlnas.cli import main
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint


def _run(out: Path, seed: int) -> tuple[str, dict[str, torch.Tensor], dict[str, object]]:
    argv = ["search", "--data", "wine", "--epochs", "3", "--train-epochs", "3", "--xi", "0.1",
            "--seed", str(seed), "--quiet", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    model = load_checkpoint(checkpoint_path(out))["model"]
    alphas = {k: v for k, v in model.items() if "alpha" in k}
    evaluation = json.loads((out / "eval.json").read_text())
    evaluation.pop("train_seconds")
    return (out / "genotype.json").read_text(), alphas, evaluation


@pytest.mark.slow
def test_same_seed_same_result_other_seed_other_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genotype_a, alphas_a, eval_a = _run(tmp_path / "a", seed=3)
    genotype_b, alphas_b, eval_b = _run(tmp_path / "b", seed=3)
    assert genotype_a == genotype_b
    assert alphas_a.keys() == alphas_b.keys() and alphas_a
    assert all(torch.equal(alphas_a[k], alphas_b[k]) for k in alphas_a)
    assert eval_a == eval_b  # test accuracy, NLL, DL, params: bit for bit
    _, alphas_c, eval_c = _run(tmp_path / "c", seed=4)
    assert any(not torch.equal(alphas_a[k], alphas_c[k]) for k in alphas_a)
    assert eval_c["description_length_bits"] != eval_a["description_length_bits"]
