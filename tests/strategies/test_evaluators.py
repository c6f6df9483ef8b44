"""The shared evaluators: objectives by hand, weight sharing touching only the path."""

from __future__ import annotations

import pytest
import torch

from mdlnas.errors import ConfigError
from mdlnas.search.evaluation import Scores
from mdlnas.strategies import ArchitectureCoding, EvaluatorConfig, Problem, make_evaluator
from mdlnas.strategies.evaluators import (
    FullTrainingEvaluator,
    SharedWeightsEvaluator,
    objective_value,
    weight_steps_per_evaluation,
)


def test_objectives_by_hand() -> None:
    accuracy = Scores(metric=0.75, nll=0.4, metric_name="accuracy")
    assert objective_value("metric", accuracy, dl_nats=100.0, lam=0.5, m=50) == 0.25
    assert objective_value("nll", accuracy, dl_nats=100.0, lam=0.5, m=50) == 0.4
    assert objective_value("mdl", accuracy, dl_nats=100.0, lam=0.5, m=50) == pytest.approx(1.4)
    rmse = Scores(metric=2.0, nll=1.1, metric_name="rmse")
    assert objective_value("metric", rmse, dl_nats=0.0, lam=1.0, m=10) == 2.0


def test_weight_steps_per_evaluation() -> None:
    assert weight_steps_per_evaluation(EvaluatorConfig(shared_steps=7), m=60) == 7
    # full training: 5 epochs of ceil(60 / 16) batches (the automatic batch is 16 here)
    assert weight_steps_per_evaluation(EvaluatorConfig(kind="full"), m=60) == 5 * 4


@pytest.mark.parametrize("bad", [{"kind": "oracle"}, {"objective": "accuracy"}, {"lam": -1.0},
                                 {"shared_steps": 0}, {"batch_size": 0}, {"device": "tpu"}])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        EvaluatorConfig(**bad)  # type: ignore[arg-type]


def test_only_mdl_trains_variational_weights() -> None:
    assert EvaluatorConfig(objective="mdl").weights.variational
    assert not EvaluatorConfig(objective="nll").weights.variational


def test_weight_sharing_trains_only_the_candidates_path(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    evaluator = make_evaluator(EvaluatorConfig(shared_steps=3, device="cpu"), problem)
    assert isinstance(evaluator, SharedWeightsEvaluator)
    net = evaluator.supernet
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    genotype = coding.decode((0, 3, 2))  # edges 0->1 linear, 1->2 identity
    evaluation = evaluator.evaluate(genotype)
    changed = {name for name, p in net.named_parameters() if not torch.equal(p, before[name])}
    # mixed op 0 is edge 0->1, its op 0 is `linear` (ReLU, linear layer, norm); identity
    # has no weights; the frame (stem, head) trains with every path
    assert {n for n in changed if n.startswith("cells")} == {
        "cells.0.mixed.0.ops.0.1.weight.mu", "cells.0.mixed.0.ops.0.1.bias.mu"}
    assert any(n.startswith("stem") for n in changed)
    assert any(n.startswith("head_linear") for n in changed)
    assert evaluator.evaluations == 1
    assert evaluation.objective == pytest.approx(1.0 - evaluation.val_metric)
    assert evaluation.description_length_bits == 0.0  # point weights for `metric`
    # rescoring is inference: no weight moves and the scores repeat
    after = {name: p.detach().clone() for name, p in net.named_parameters()}
    assert evaluator.rescore(genotype) == evaluator.rescore(genotype) == evaluation
    assert all(torch.equal(p, after[name]) for name, p in net.named_parameters())
    assert evaluator.evaluations == 1


def test_mdl_objective_charges_the_description_length(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    config = EvaluatorConfig(objective="mdl", lam=2.0, shared_steps=1, device="cpu")
    evaluator = make_evaluator(config, problem)
    evaluation = evaluator.evaluate(coding.decode((0, 3, 2)))
    dl_nats = evaluation.description_length_bits * torch.log(torch.tensor(2.0)).item()
    assert evaluation.description_length_bits > 0
    expected = evaluation.val_nll + 2.0 * dl_nats / len(problem.data.train)
    assert evaluation.objective == pytest.approx(expected, rel=1e-6)


def test_full_training_scores_a_fresh_network(
    problem: Problem, coding: ArchitectureCoding
) -> None:
    evaluator = make_evaluator(EvaluatorConfig(kind="full", full_epochs=1, device="cpu"), problem)
    assert isinstance(evaluator, FullTrainingEvaluator) and not evaluator.can_rescore
    genotype = coding.decode((0, 3, 2))
    first, second = evaluator.evaluate(genotype), evaluator.evaluate(genotype)
    assert first == second  # from scratch, with the problem's seed, every time
    assert evaluator.evaluations == 2
    assert first.objective == pytest.approx(1.0 - first.val_metric)
