"""A family run's files: ``front.csv`` (one row per λ read off, see
:mod:`mdlnas.strategies.family`) and ``genotypes/`` (its distinct networks)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mdlnas.errors import ConfigError
from mdlnas.report.run_files import FRONT_FILE, GENOTYPES_DIR, read_rows, write_rows
from mdlnas.space.genotype import Genotype
from mdlnas.strategies.family import FITTED_COLUMNS, TRIAL_COLUMN, RowKey, row_key

TEST_COLUMNS = ("test_metric", "test_weights", "retrain_seconds")  # --retrain's
FRONT_COLUMNS = ("lam", "genotype", "weights", "macs", "dl_bits", "val_metric", TRIAL_COLUMN,
                 *FITTED_COLUMNS, "metric", "chosen", *TEST_COLUMNS)


# -- files -----------------------------------------------------------------------------
def write_front(run_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    write_rows(run_dir / FRONT_FILE, rows, FRONT_COLUMNS)


def read_front(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / FRONT_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir} holds no family ({FRONT_FILE}); it comes from "
                          "`mdlnas search --lam-range LO:HI`")
    rows = read_rows(path)
    for row in rows:
        for key in (TRIAL_COLUMN, *TEST_COLUMNS):  # an empty cell: not tried, not retrained
            if row.get(key) == "":
                row[key] = None
        for key in FITTED_COLUMNS:  # absent where no budget fitted the network
            if row.get(key) in ("", None):
                row.pop(key, None)
        for key in ("weights", "macs", "test_weights", *FITTED_COLUMNS):
            if isinstance(row.get(key), float) and math.isfinite(row[key]):
                row[key] = int(row[key])
        row["genotype"] = str(row["genotype"])
        row["chosen"] = row.get("chosen") in (True, 1, 1.0, "True", "true")
    return rows


def keep_test_scores(run_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Copy the test scores of ``run_dir``'s front.csv, if any, into ``rows`` of the same
    λ and network (the family read again off the same search)."""
    if not (run_dir / FRONT_FILE).is_file():
        return
    measured = {row_key(r): r for r in read_front(run_dir)}
    for row in rows:
        old = measured.get(row_key(row))
        if old is not None:
            row.update({key: old.get(key) for key in TEST_COLUMNS})


def read_trials(run_dir: Path) -> dict[RowKey, float]:
    """The trial trainings ``run_dir``'s front.csv holds, if any, by row: what a resumed
    run need not train again."""
    if not (run_dir / FRONT_FILE).is_file():
        return {}
    return {row_key(r): float(r[TRIAL_COLUMN]) for r in read_front(run_dir)
            if r.get(TRIAL_COLUMN) is not None}


def save_genotypes(run_dir: Path, genotypes: dict[str, Genotype]) -> None:
    folder = run_dir / GENOTYPES_DIR
    folder.mkdir(exist_ok=True)
    for name, genotype in genotypes.items():
        genotype.save(folder / name)


def load_family_genotype(run_dir: Path, name: str) -> Genotype:
    return Genotype.load(run_dir / GENOTYPES_DIR / name)


def nearest_row(rows: Sequence[dict[str, Any]], lam: float) -> int:
    """The row whose λ is nearest ``lam`` on the log scale."""
    return min(range(len(rows)), key=lambda i: abs(math.log(rows[i]["lam"]) - math.log(lam)))


def format_front(rows: Sequence[dict[str, Any]], metric: str) -> str:
    """The family as a table, one line per λ (with the trial trainings' column if any)."""
    tried = any(_number(row.get(TRIAL_COLUMN)) is not None for row in rows)
    trial_head = f"  {'trial ' + metric:>14}" if tried else ""
    fitted = any(row.get("fitted_channels") is not None for row in rows)
    fitted_head = f"  {'budget width':>20}" if fitted else ""
    lines = [f"{'λ':>9}  {'weights':>8}  {'MACs':>10}  {'DL (bits)':>10}  "
             f"{'val ' + metric:>13}{trial_head}{fitted_head}  {'test ' + metric:>13}  genotype"]
    for row in rows:
        trial = _number(row.get(TRIAL_COLUMN))
        trial_cell = f"  {(f'{trial:.4f}' if trial is not None else '-'):>14}" if tried else ""
        width = (f"{row['fitted_channels']} ch, {row['fitted_weights']:,} w"
                 if row.get("fitted_channels") is not None else "-")
        fitted_cell = f"  {width:>20}" if fitted else ""
        test = _number(row.get("test_metric"))
        tested = f"{test:.4f}" if test is not None else "-"
        mark = "  ← chosen" if row.get("chosen") else ""
        lines.append(
            f"{row['lam']:>9.4g}  {row['weights']:>8,}  {row['macs']:>10,}  "
            f"{row['dl_bits']:>10,.0f}  {row['val_metric']:>13.4f}{trial_cell}{fitted_cell}  "
            f"{tested:>13}  "
            f"{row['genotype']}{mark}"
        )
    return "\n".join(lines)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, float) and math.isfinite(value) else None
