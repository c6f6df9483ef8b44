"""Shared checks for user data files."""

from __future__ import annotations

from pathlib import Path

from mdlnas.errors import DataError


def existing_file(path: str) -> Path:
    """``path`` as a Path, or a DataError saying why it cannot be read."""
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError(f"data file not found: {path}")
    if not file.is_file():
        raise DataError(f"not a regular file: {path}")
    return file
