"""Settings are checked where they are made, with messages that name the setting."""

from __future__ import annotations

import pytest

from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig, batch_size_for
from mdlnas.errors import ConfigError


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: SearchConfig(lam=-1), "lam"),
        (lambda: SearchConfig(xi=-0.1), "xi"),
        (lambda: SearchConfig(w_lr=0), "w_lr"),
        (lambda: SearchConfig(alpha_lr=-1), "alpha_lr"),
        (lambda: SearchConfig(max_epochs=0), "max_epochs"),
        (lambda: SearchConfig(batch_size=0), "batch_size"),
        (lambda: SearchConfig(warmup_epochs=-1), "warmup_epochs"),
        (lambda: SearchConfig(hypergradient="magic"), "hypergradient"),  # type: ignore[arg-type]
        (lambda: SearchConfig(device="tpu"), "device"),
        (lambda: TrainConfig(epochs=0), "epochs"),
        (lambda: TrainConfig(lr=-1), "lr"),
        (lambda: TrainConfig(batch_size=True), "batch_size"),  # a bool is not a size
        (lambda: BayesConfig(prior_std=0), "prior_std"),
        (lambda: BayesConfig(init_sigma=-1), "init_sigma"),
        (lambda: SpaceConfig("s", 3, ("conv_3",)), "dim"),
        (lambda: SpaceConfig("s", 1, ("zero",)), "other than 'zero'"),
        (lambda: SpaceConfig("s", 1, ("conv_3",), layers=2, reduction_layers=(5,)), "outside"),
        (lambda: SpaceConfig("s", 1, ("conv_3",), channel_growth=0), "channel_growth"),
    ],
)
def test_invalid_settings_are_refused_by_name(make, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=name):
        make()


def test_batch_size_follows_the_data_unless_given() -> None:
    assert batch_size_for(None, 106, largest=128) == 16  # small table: at least 16
    assert batch_size_for(None, 1078, largest=128) == 107  # a tenth of the rows
    assert batch_size_for(None, 3200, largest=128) == 128  # capped
    assert batch_size_for(None, 10, largest=128) == 10  # never more than the data
    assert batch_size_for(50, 3200, largest=128) == 50  # the user's choice stands
    with pytest.raises(ConfigError, match="larger than the 100 training examples"):
        batch_size_for(101, 100, largest=128)
