"""Settings of the wrong type or non-finite value (from a hand-edited config.toml or a
script) are ConfigErrors naming the setting, not TypeErrors or a search that diverges."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.errors import ConfigError

INF, NAN = float("inf"), float("nan")

CASES: dict[str, tuple[Callable[[], object], str]] = {
    "infinite lam": (lambda: SearchConfig(lam=INF), r"lam must be a finite number, got inf"),
    "NaN xi": (lambda: SearchConfig(xi=NAN), r"xi must be a finite number, got nan"),
    "infinite w_lr": (lambda: SearchConfig(w_lr=INF), "w_lr must be a finite number"),
    "text alpha_lr": (lambda: SearchConfig(alpha_lr="0.1"),  # type: ignore[arg-type]
                      r"alpha_lr must be a number, got '0.1'"),
    "boolean lam": (lambda: SearchConfig(lam=True), "lam must be a number, got True"),
    "negative search seed": (lambda: SearchConfig(seed=-1),
                             "seed must be a non-negative integer, got -1"),
    "fractional train seed": (lambda: TrainConfig(seed=1.5),  # type: ignore[arg-type]
                              "seed must be a non-negative integer, got 1.5"),
    "negative train seed": (lambda: TrainConfig(seed=-3), "seed must be a non-negative integer"),
    "fractional n_train": (lambda: TrainConfig(n_train=2.5),  # type: ignore[arg-type]
                           r"n_train must be 0 \(all rows\) or positive, got 2.5"),
    "infinite train lr": (lambda: TrainConfig(lr=INF), "lr must be a finite number"),
    "text warmup": (lambda: SearchConfig(warmup_epochs="2"),  # type: ignore[arg-type]
                    "warmup_epochs must be a non-negative integer, got '2'"),
    "device not text": (lambda: SearchConfig(device=0),  # type: ignore[arg-type]
                        "device must be auto, cpu, cuda or cuda:N, got 0"),
    "bayes not a BayesConfig": (lambda: TrainConfig(bayes={}),  # type: ignore[arg-type]
                                "bayes must be a BayesConfig"),
    "variational not a bool": (lambda: BayesConfig(variational="no"),  # type: ignore[arg-type]
                               "variational must be true or false, got 'no'"),
    "infinite sigma_lr": (lambda: BayesConfig(sigma_lr=INF), "sigma_lr must be a finite number"),
    "NaN prior_std": (lambda: BayesConfig(prior_std=NAN), "prior_std must be a finite number"),
    "text n_nodes": (lambda: SpaceConfig("s", 1, ("conv_3",), n_nodes="3"),  # type: ignore[arg-type]
                     "n_nodes must be a positive integer, got '3'"),
    "boolean channels": (lambda: SpaceConfig("s", 1, ("conv_3",), channels=True),
                         "channels must be a positive integer, got True"),
    "ops as a string": (lambda: SpaceConfig("s", 1, "conv_3"),  # type: ignore[arg-type]
                        "candidate ops must be a tuple of op names"),
    "reduction layers of text": (
        lambda: SpaceConfig("s", 1, ("conv_3",), layers=2,
                            reduction_layers=("1",)),  # type: ignore[arg-type]
        "reduction_layers must be a tuple of cell indices"),
    "boolean dim": (lambda: SpaceConfig("s", True, ("conv_3",)),  # type: ignore[arg-type]
                    "space dim must be 0 .*, got True"),
    "unnamed space": (lambda: SpaceConfig("", 1, ("conv_3",)), "a search space needs a name"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_is_a_config_error_naming_it(case: str) -> None:
    make, message = CASES[case]
    with pytest.raises(ConfigError, match=message):
        make()


def test_defaults_and_ordinary_values_still_pass() -> None:
    SearchConfig(lam=0, xi=0.5, w_lr=1e30, grad_clip=1e30, seed=7)  # ints are numbers too
    # NumPy scalars (a λ from np.linspace, a seed from np.arange) are numbers too.
    SearchConfig(lam=np.float32(0.5), seed=np.int64(3), max_epochs=np.int64(2))  # type: ignore[arg-type]
    TrainConfig(n_train=0, seed=0, lr=1)
    BayesConfig(prior_std=None, sigma_lr=0.1)
    SpaceConfig("s", 1, ("conv_3", "zero"), layers=3, reduction_layers=(1, 2))


def test_a_config_whose_table_is_a_number_names_the_table() -> None:
    from mdlnas.workflow import config_from_tables

    with pytest.raises(ConfigError, match=r"\[data\] must be a table"):
        config_from_tables({"data": 3})
