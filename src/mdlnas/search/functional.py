"""Turning a supernet and a batch into the pure objectives the hypergradient needs."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from mdlnas.distributed import Shard
from mdlnas.search.hypergradient import Objective
from mdlnas.search.objectives import FreeEnergy, free_energy, mean_nll
from mdlnas.space.supernet import Supernet
from mdlnas.space.variational import common_noise, noise_rows


def parameter_names(model: Supernet) -> tuple[list[str], list[str]]:
    """Names of the weight parameters and of the architecture parameters, in the order of
    :meth:`Supernet.weight_parameters` and :meth:`Supernet.arch_parameters`."""
    return model.weight_names(), model.arch_names()


def evaluate_free_energy(
    model: Supernet,
    x: Tensor,
    y: Tensor,
    *,
    lam: float,
    m: int,
    weights: Sequence[Tensor] | None = None,
    alphas: Sequence[Tensor] | None = None,
    nll_weight: float = 1.0,
) -> FreeEnergy:
    """``F`` on one batch, optionally with substituted weights / architecture; the NLL is
    multiplied by ``nll_weight`` (a data-parallel shard's share, see :class:`Shard`)."""
    w_names, a_names = parameter_names(model)
    params: dict[str, Tensor] = {}
    if weights is not None:
        params.update(zip(w_names, weights, strict=True))
    if alphas is not None:
        params.update(zip(a_names, alphas, strict=True))
    # the network and its description length see the same substituted parameters
    with model.substituted(params):
        outputs, dl = model(x), model.description_length()
    log_noise = params.get("log_noise", model.log_noise)
    return free_energy(nll_weight * mean_nll(outputs, y, model.task, log_noise), dl, lam, m)


def make_objective(
    model: Supernet,
    x: Tensor,
    y: Tensor,
    *,
    lam: float,
    m: int,
    noise_seed: int,
    shard: Shard | None = None,
) -> Objective:
    """``F(w, α)`` on the batch ``(x, y)`` with the noise stream fixed by ``noise_seed``,
    so repeated evaluations inside one hypergradient share their samples. With ``shard``
    only this rank's rows are evaluated, with the whole batch's noise for those rows."""
    part = shard if shard is not None else Shard(0, len(x), len(x), 1)
    xs, ys = part.rows(x, y)

    def objective(weights: Sequence[Tensor], alphas: Sequence[Tensor]) -> Tensor:
        with common_noise(noise_seed, x.device), noise_rows(part.start, part.total):
            return evaluate_free_energy(
                model, xs, ys, lam=lam, m=m, weights=weights, alphas=alphas,
                nll_weight=part.nll_weight,
            ).total

    return objective
