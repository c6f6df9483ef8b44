"""``mdlnas bench step-cost``: what one DARTS step costs, in forward+backward passes.

A step has a floor: the architecture step needs one forward+backward of the supernet for
first order (plus the weight step's one: about 2 in all) and about four for the exact
second order. This measures, in one run on one fixed batch, the supernet's forward+backward
(``fwd_bwd_ms``: the free energy of the batch, description length included, and the
gradient of every weight, exactly as a weight step computes it) and a whole search step of
each kind, and reports each step over ``fwd_bwd_ms``. The machine may be shared, so the
measurements take turns within every repeat (a load that comes and goes hits all of them
alike) and the medians over the repeats are reported. The forward+backward, the divisor
of every ratio, is timed right before each step (three times a repeat): on a 2-core
virtual machine where it took 699–1,148 ms over the ten repeats of one conv1d run
(``benchmarks/step_cost_raw.py``), one sample a repeat left its median the noisiest
number of the report.

It also counts the floating-point operations of each step (matrix products and
convolutions, forward and backward, by ``torch.utils.flop_counter``) and times a square
matrix product in the same run, so the achieved GFLOP/s can be read against what the
machine's matrix kernel reaches.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mdlnas.config import BayesConfig, HypergradientMethod, SearchConfig
from mdlnas.data.bundle import DataBundle, Split
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError
from mdlnas.memory import freed_memory_kept
from mdlnas.search.darts import BilevelSearch
from mdlnas.search.functional import evaluate_free_energy
from mdlnas.space.presets import make_space

# The sample shape of the data each space is made for: digits (64 features), MNIST-1D
# (one channel of 40), Fashion-MNIST (one 28×28 channel); 10 classes in each.
SAMPLE_SHAPES = {0: (64,), 1: (1, 40), 2: (1, 28, 28)}
N_CLASSES = 10
TARGETS = {"ratio_first": 2.3, "ratio_second_exact": 4.5}
STEPS = ("first_order", "second_order_exact", "second_order_fd")


@dataclass(frozen=True)
class StepCostConfig:
    """``xi`` only has to be positive: its value does not change the work of a step."""

    space: str = "mlp"
    batch_size: int = 128
    repeats: int = 10
    warmup: int = 2
    xi: float = 0.01
    lam: float = 1.0
    variational: bool = True
    seed: int = 0
    device: str = "auto"
    matmul_size: int = 1024

    def __post_init__(self) -> None:
        for name in ("batch_size", "repeats", "matmul_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ConfigError("batch_size must be at least 2 (BatchNorm needs two rows)")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"warmup must be a non-negative integer, got {self.warmup!r}")
        if not self.xi > 0:
            raise ConfigError(f"xi must be positive (a second-order step), got {self.xi!r}")


def synthetic_data(dim: int, batch_size: int, seed: int) -> DataBundle:
    """One batch of standard-normal samples with uniform labels, as train and val parts."""
    rng = np.random.default_rng(seed)
    shape = SAMPLE_SHAPES[dim]

    def part() -> Split:
        x = rng.standard_normal((batch_size, *shape)).astype(np.float32)
        return Split(x, rng.integers(0, N_CLASSES, batch_size))

    return DataBundle("synthetic", "classification", part(), part(), part(), shape, N_CLASSES)


def _now(device: torch.device) -> float:
    if device.type == "cuda":  # kernels run asynchronously: wait for them
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    start = _now(device)
    fn()
    return (_now(device) - start) * 1000.0


def timing_order(steps: tuple[str, ...]) -> list[str]:
    """What one repeat times, in order: each step right after a forward+backward."""
    return [name for step in steps for name in ("fwd_bwd", step)]


def _gflop(fn: Callable[[], object]) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops() / 1e9


def matmul_peak_gflops(n: int, device: torch.device, repeats: int = 5) -> float:
    """GFLOP/s of an ``n × n`` float32 matrix product: what the machine's kernel reaches."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(device)
    b = torch.randn(n, n, generator=generator).to(device)
    (a @ b).sum()  # warm-up: the first call may allocate and pick kernels
    ms = statistics.median(_timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n**3 / 1e9 / (ms / 1000.0)


def peak_rss_mb() -> float:
    """The process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def step_cost(config: StepCostConfig) -> dict[str, Any]:
    """Measure; returns the report (times in ms, medians over ``config.repeats``)."""
    space = make_space(config.space)
    device = resolve_device(config.device)
    data = synthetic_data(space.dim, config.batch_size, config.seed)
    bayes = BayesConfig(variational=config.variational)
    kinds: dict[str, tuple[float, HypergradientMethod]] = {
        "first_order": (0.0, "exact"), "second_order_exact": (config.xi, "exact"),
        "second_order_fd": (config.xi, "fd"),
    }
    searches = {
        name: BilevelSearch(data, space, SearchConfig(
            calibration_epochs=0,  # every timed step must include the architecture step
            lam=config.lam, xi=xi, hypergradient=method, batch_size=config.batch_size,
            seed=config.seed, device=config.device, bayes=bayes))
        for name, (xi, method) in kinds.items()
    }
    reference = searches["first_order"]
    batches = {name: ((s.train_split.x, s.train_split.y), (s.val_split.x, s.val_split.y))
               for name, s in searches.items()}

    def fwd_bwd() -> None:
        model = reference.model
        model.zero_grad(set_to_none=True)
        energy = evaluate_free_energy(model, *batches["first_order"][0], lam=config.lam,
                                      m=reference.m)
        torch.autograd.backward(energy.total)

    def stepper(search: BilevelSearch, name: str) -> Callable[[], object]:
        return lambda: search.step(*batches[name])

    runs: dict[str, Callable[[], object]] = {"fwd_bwd": fwd_bwd}
    for name, search in searches.items():
        search.model.train()
        runs[name] = stepper(search, name)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(config.warmup + config.repeats):
        for name in timing_order(STEPS):  # in turn, so that changing load hits all alike
            ms = _timed(runs[name], device)
            if repeat >= config.warmup:
                times[name].append(ms)
    gflop = {name: _gflop(run) for name, run in runs.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    peak = matmul_peak_gflops(config.matmul_size, device)
    report: dict[str, Any] = {
        "space": config.space, "batch_size": config.batch_size, "repeats": config.repeats,
        "variational": config.variational, "lam": config.lam, "device": str(device),
        "threads": torch.get_num_threads(),
        "fwd_bwd_ms": median["fwd_bwd"],
        "fwd_bwd_samples": len(times["fwd_bwd"]),
        **{f"{name}_step_ms": median[name] for name in STEPS},
        "ratio_first": median["first_order"] / median["fwd_bwd"],
        "ratio_second_exact": median["second_order_exact"] / median["fwd_bwd"],
        "ratio_second_fd": median["second_order_fd"] / median["fwd_bwd"],
        "fwd_bwd_gflop": gflop["fwd_bwd"],
        **{f"{name}_step_gflop": gflop[name] for name in STEPS},
        **{f"{name}_step_gflops": gflop[name] / (median[name] / 1000.0) for name in STEPS},
        "matmul_peak_gflops": peak,
        "peak_rss_mb": peak_rss_mb(),
        "freed_memory_kept": freed_memory_kept(),
    }
    report["targets"] = dict(TARGETS)
    report["meets_targets"] = all(report[key] <= limit for key, limit in TARGETS.items())
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"space {report['space']}, batch {report['batch_size']}, "
             f"{report['repeats']} repeats, {report['device']}, {report['threads']} threads"]
    lines.append(f"  forward+backward      {report['fwd_bwd_ms']:9.2f} ms  "
                 f"(median of {report['fwd_bwd_samples']}, one before each step)")
    for name, ratio in (("first_order", "ratio_first"),
                        ("second_order_exact", "ratio_second_exact"),
                        ("second_order_fd", "ratio_second_fd")):
        target = TARGETS.get(ratio)
        goal = f" (target ≤ {target})" if target is not None else ""
        lines.append(f"  {name.replace('_', ' '):21s} {report[f'{name}_step_ms']:9.2f} ms  "
                     f"{report[ratio]:5.2f}× forward+backward{goal}, "
                     f"{report[f'{name}_step_gflops']:.2f} GFLOP/s")
    lines.append(f"  matrix product peak   {report['matmul_peak_gflops']:9.2f} GFLOP/s")
    lines.append(f"  peak memory           {report['peak_rss_mb']:9.1f} MB")
    kept = "yes" if report["freed_memory_kept"] else "no"
    lines.append(f"  freed memory kept     {kept} (MDLNAS_KEEP_MEMORY)")
    return "\n".join(lines)
