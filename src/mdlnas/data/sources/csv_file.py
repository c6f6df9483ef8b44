"""User tables in CSV: a header row, numeric feature columns and one target column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.assemble import build_bundle
from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig
from mdlnas.data.sources.files import MISSING_MARKERS, existing_file
from mdlnas.data.targets import encode_targets
from mdlnas.errors import DataError

Row = tuple[int, list[str]]  # (line number in the file, cells)


def _read_rows(file: Path) -> list[Row]:
    try:
        # utf-8-sig drops the byte-order mark Excel writes, which would glue onto a name.
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read CSV file {file}: {error}") from None


def _header(file: Path, rows: list[Row]) -> list[str]:
    if not rows:
        raise DataError(f"CSV file {file} is empty")
    names = [cell.strip() for cell in rows[0][1]]
    if all(_is_number(name) for name in names):
        raise DataError(
            f"CSV file {file}: the first row looks like data; a header row naming the "
            "columns is required"
        )
    if "" in names or len(set(names)) != len(names):
        raise DataError(f"CSV file {file}: column names must be non-empty and unique, got {names}")
    if len(rows) == 1:
        raise DataError(f"CSV file {file} has a header but no data rows")
    return names


def _target_column(file: Path, names: list[str], target: str | None) -> int:
    columns = ", ".join(names)
    if target is None:
        raise DataError(
            f"CSV file {file}: name the target column with --target / target= (columns: {columns})"
        )
    if target not in names:
        raise DataError(f"CSV file {file} has no column {target!r}; columns: {columns}")
    if len(names) < 2:
        raise DataError(f"CSV file {file} has no feature columns besides the target {target!r}")
    return names.index(target)


def _parse_feature(file: Path, name: str, line: int, cell: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING_MARKERS:
        raise DataError(
            f"CSV file {file}: column {name!r} is missing a value at line {line}; "
            "fill or drop such rows"
        )
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"CSV file {file}: column {name!r} holds the non-numeric value {text!r} at line "
            f"{line}; feature columns must be numeric (encode or drop that column)"
        ) from None
    if not np.isfinite(value):
        raise DataError(
            f"CSV file {file}: column {name!r} holds {text!r} at line {line}; values must be finite"
        )
    return value


def read_csv(file: Path, target: str | None) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """Features (n, n_columns - 1) and raw target texts from a CSV file."""
    rows = _read_rows(file)
    names = _header(file, rows)
    target_ix = _target_column(file, names, target)
    features: list[list[float]] = []
    labels: list[str] = []
    for line, cells in rows[1:]:
        if len(cells) != len(names):
            raise DataError(
                f"CSV file {file}: line {line} has {len(cells)} fields, the header {len(names)}"
            )
        label = cells[target_ix].strip()
        if label.lower() in MISSING_MARKERS:
            raise DataError(
                f"CSV file {file}: the target {names[target_ix]!r} is missing at line {line}; "
                "drop such rows"
            )
        labels.append(label)
        features.append(
            [
                _parse_feature(file, name, line, cell)
                for j, (name, cell) in enumerate(zip(names, cells, strict=True))
                if j != target_ix
            ]
        )
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.str_)


def load_csv(config: DataConfig) -> DataBundle:
    """A CSV file as tabular data; the task is inferred from the target column."""
    file = existing_file(config.name)
    x, raw_y = read_csv(file, config.target)
    targets = encode_targets(raw_y, config.task, source=f"CSV file {file}")
    return build_bundle(config, file.name, x, targets)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
