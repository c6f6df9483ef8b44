"""How far a variationally trained network can be pruned by signal-to-noise (Graves 2011).

    python benchmarks/prune_curve.py RUN_DIR [--snr 1,1.5,2,3,4,6,8]

RUN_DIR holds a network retrained with variational weights (`mdlnas train DIR
--variational`). For each threshold T the script prunes a fresh copy of the saved network
(weights with |μ|/σ < T set to zero) and scores it on the validation and the test part.
The threshold a user should take is chosen on validation data only: the largest T whose
validation metric stays within --tolerance of the unpruned network's. Writes
RUN_DIR/prune_curve.json and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from mdlnas.data import load
from mdlnas.search.batches import to_tensors
from mdlnas.search.evaluation import score
from mdlnas.space.network import DerivedNetwork, nonzero_weights
from mdlnas.train.prune import prune_by_snr
from mdlnas.workflow import load_model, load_run_config


def _scores(model: DerivedNetwork, data: Any, part: str) -> float:
    device = next(model.parameters()).device
    split = to_tensors(getattr(data, part), device)
    return score(model, split, model.task).metric


def curve(run_dir: Path, thresholds: list[float], tolerance: float) -> dict[str, Any]:
    data = load(load_run_config(run_dir).retraining_data())
    trained = load_model(run_dir, "cpu")
    rows = []
    for threshold in [0.0, *thresholds]:
        model = copy.deepcopy(trained)
        prune_by_snr(model, threshold)
        rows.append(
            {
                "snr": threshold,
                "nonzero_params": nonzero_weights(model),
                "val_metric": _scores(model, data, "val"),
                "test_metric": _scores(model, data, "test"),
            }
        )
    # Chosen without looking at the test part: the largest threshold that keeps the
    # validation metric within the tolerance of the unpruned network's.
    floor = rows[0]["val_metric"] - tolerance
    chosen = max((r for r in rows if r["val_metric"] >= floor), key=lambda r: r["snr"])
    return {"run_dir": str(run_dir), "tolerance": tolerance, "rows": rows, "chosen": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--snr", default="0.5,1,1.5,2,3,4,6,8")
    parser.add_argument("--tolerance", type=float, default=0.005)
    args = parser.parse_args()
    result = curve(args.run_dir, [float(t) for t in args.snr.split(",")], args.tolerance)
    (args.run_dir / "prune_curve.json").write_text(json.dumps(result, indent=2))
    print(f"{'SNR':>5}  {'nonzero':>8}  {'val':>6}  {'test':>6}")
    for r in result["rows"]:
        mark = "  <- chosen on validation" if r is result["chosen"] else ""
        print(f"{r['snr']:>5}  {r['nonzero_params']:>8,}  {r['val_metric']:.4f}  "
              f"{r['test_metric']:.4f}{mark}")


if __name__ == "__main__":
    main()
