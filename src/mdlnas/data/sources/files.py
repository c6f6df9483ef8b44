"""Shared checks for user data files."""

from __future__ import annotations

from pathlib import Path

from mdlnas.errors import DataError

# Cell texts that mean "no value" in CSV files written by common tools (pandas, R, Excel).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


def existing_file(path: str) -> Path:
    """``path`` as a Path, or a DataError saying why it cannot be read."""
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError(f"data file not found: {path}")
    if not file.is_file():
        raise DataError(f"not a regular file: {path}")
    return file
