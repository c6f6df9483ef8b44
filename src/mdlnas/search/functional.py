"""Turning a supernet and a batch into the pure objectives the hypergradient needs: the
free energy (:func:`mdlnas.search.method.batch_free_energy`) with substituted parameters,
a fixed noise stream, and under torchrun this rank's rows of the batch."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from mdlnas.distributed import Shard
from mdlnas.search.method import DescriptionLength, FreeEnergy, batch_free_energy
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
    description_length: DescriptionLength = Supernet.description_length,
    paths: int = 1,
) -> FreeEnergy:
    """``F`` on one batch, optionally with substituted weights / architecture; the NLL is
    multiplied by ``nll_weight`` (a data-parallel shard's share, see :class:`Shard`). The
    description length is the fused one unless another is given (the method's reference).
    ``paths``: architectures drawn for the batch (``reinforce``)."""
    w_names, a_names = parameter_names(model)
    params: dict[str, Tensor] = {}
    if weights is not None:
        params.update(zip(w_names, weights, strict=True))
    if alphas is not None:
        params.update(zip(a_names, alphas, strict=True))
    # the network and its description length see the same substituted parameters
    with model.substituted(params):
        return batch_free_energy(model, x, y, lam=lam, m=m, nll_weight=nll_weight,
                                 description_length=description_length, paths=paths)


class BatchObjective:
    """``F(w, α)`` on the batch ``(x, y)`` with the noise stream fixed by ``noise_seed``, so
    repeated evaluations share their samples. Called, it gives the total (the objective the
    hypergradient takes); :meth:`energy` gives its parts. With ``shard`` only this rank's
    rows are evaluated, with the whole batch's noise for those rows. ``paths`` > 1 draws
    that many architectures per evaluation (``reinforce``), the same ones each time."""

    def __init__(self, model: Supernet, x: Tensor, y: Tensor, *, lam: float, m: int,
                 noise_seed: int, shard: Shard | None = None,
                 description_length: DescriptionLength = Supernet.description_length,
                 paths: int = 1) -> None:
        self.model, self.lam, self.m, self.noise_seed = model, lam, m, noise_seed
        self.paths = paths
        self.description_length, self.device = description_length, x.device
        self.part = shard if shard is not None else Shard(0, len(x), len(x), 1)
        self.x, self.y = self.part.rows(x, y)

    def energy(self, weights: Sequence[Tensor] | None = None,
               alphas: Sequence[Tensor] | None = None) -> FreeEnergy:
        """``F`` and its parts; ``None`` for ``w`` or ``α``: the model's own."""
        part = self.part
        with common_noise(self.noise_seed, self.device), noise_rows(part.start, part.total):
            return evaluate_free_energy(
                self.model, self.x, self.y, lam=self.lam, m=self.m, weights=weights,
                alphas=alphas, nll_weight=part.nll_weight,
                description_length=self.description_length, paths=self.paths,
            )

    def __call__(self, weights: Sequence[Tensor], alphas: Sequence[Tensor]) -> Tensor:
        return self.energy(weights, alphas).total


make_objective = BatchObjective  # the name the tests and benchmarks know
