"""How fast the supernet's weights learn with sampled paths against the softmax mixture.

α stays frozen (every epoch is a calibration epoch), so only the weights train; the
training NLL per epoch shows how quickly the shared weights become useful under each
relaxation. MNIST-1D, the default ``conv1d`` preset, one thread.

    python benchmarks/sampled_training.py --relaxation gumbel --epochs 30 --w-lr 0.003
    python benchmarks/sampled_training.py --relaxation softmax --epochs 2
"""

from __future__ import annotations

import argparse
import time

import torch

from mdlnas.config import BayesConfig, SearchConfig
from mdlnas.data.catalog import load
from mdlnas.data.config import DataConfig
from mdlnas.search.darts import BilevelSearch
from mdlnas.space.presets import make_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relaxation", choices=["softmax", "gumbel"], default="gumbel")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--w-lr", type=float, default=3e-3)
    parser.add_argument("--lam", type=float, default=0.0)
    parser.add_argument("--variational", action="store_true",
                        help="variational weights (default: point weights)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load(DataConfig(name="mnist1d"))
    config = SearchConfig(relaxation=args.relaxation, lam=args.lam, w_lr=args.w_lr,
                          max_epochs=args.epochs, calibration_epochs=args.epochs,
                          bayes=BayesConfig(variational=args.variational))
    search = BilevelSearch(data, make_space("conv1d"), config)
    for _ in range(args.epochs):
        start = time.perf_counter()
        record = search.run_epoch()
        print(f"epoch {record.epoch:3d}  train NLL {record.train_nll:.3f}  "
              f"{time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
