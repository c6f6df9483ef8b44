"""Where an exact second-order step's time goes, in forward+backward passes (issue 7).

    python benchmarks/exact_phases.py --space mlp --batch-size 128 --repeats 12

The step of ``hypergradient.second_order(method="exact")`` followed by the weight step,
cut into its four passes and timed one by one on ``mdlnas bench``'s fixed batch, each
over one forward+backward of the supernet timed in the same repeat (medians; the first
repeat is a warm-up): the training objective's forward and backward with its graph kept,
the validation objective's forward and backward at the unrolled weights, the double
backward of the Hessian-vector product to α, and the weight step's forward and backward.
Optimiser updates are left out. Uses the hypergradient module's private helpers on
purpose: it measures their parts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from mdlnas.config import SearchConfig
from mdlnas.memory import keep_freed_memory
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import evaluate_free_energy, make_objective
from mdlnas.search.hypergradient import _flat
from mdlnas.search.method import gradient as _grad
from mdlnas.search.method import leaves as _leaves
from mdlnas.space.presets import make_space
from mdlnas.space.twice import twice_differentiable
from mdlnas.workflow.bench import synthetic_data

PHASES = ("fwd_bwd", "train_forward_backward_with_graph", "val_forward_backward",
          "double_backward_to_alpha", "weight_forward_backward")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="mlp")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=12)
    args = p.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()  # as the mdlnas command does
    space = make_space(args.space)
    data = synthetic_data(space.dim, args.batch_size, 0)
    search = BilevelSearch(data, space, SearchConfig(xi=0.01, device="cpu",
                                                     batch_size=args.batch_size))
    model = search.model
    model.train()
    train = (search.train_split.x, search.train_split.y)
    val = (search.val_split.x, search.val_split.y)
    times: dict[str, list[float]] = {k: [] for k in PHASES}

    def lap(phase: str, start: float) -> None:
        times[phase].append((time.perf_counter() - start) * 1000)

    def fwd_bwd() -> None:
        model.zero_grad(set_to_none=True)
        torch.autograd.backward(evaluate_free_energy(model, *train, lam=1.0, m=search.m).total)

    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        fwd_bwd()
        lap("fwd_bwd", start)
        f_train = make_objective(model, *train, lam=1.0, m=search.m, noise_seed=1)
        f_val = make_objective(model, *val, lam=1.0, m=search.m, noise_seed=2)
        w, a = _leaves(model.weight_parameters()), _leaves(model.arch_parameters())
        start = time.perf_counter()
        with twice_differentiable():  # as hypergradient.second_order records it
            g = _grad(f_train(w, a), w, create_graph=True)
        lap("train_forward_backward_with_graph", start)
        with torch.no_grad():
            w_prime = _leaves(torch._foreach_add(w, [gi.detach() for gi in g], alpha=-0.01))
        start = time.perf_counter()
        v = _grad(f_val(w_prime, a), [*w_prime, *a])[: len(w)]
        lap("val_forward_backward", start)
        start = time.perf_counter()
        _grad(torch.dot(_flat(g), _flat(v)), a)
        lap("double_backward_to_alpha", start)
        start = time.perf_counter()
        fwd_bwd()
        lap("weight_forward_backward", start)
    median = {k: statistics.median(v[1:]) for k, v in times.items()}
    ratios = {k: round(median[k] / median["fwd_bwd"], 2) for k in PHASES}
    print(json.dumps({"space": args.space, "batch_size": args.batch_size,
                      "fwd_bwd_ms": round(median["fwd_bwd"], 2), "in_fwd_bwd": ratios,
                      "sum_of_phases": round(sum(ratios[k] for k in PHASES[1:]), 2)}))


if __name__ == "__main__":
    main()
