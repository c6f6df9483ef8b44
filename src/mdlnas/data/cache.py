"""A small on-disk cache for generated arrays (``$MDLNAS_CACHE`` or ``~/.cache/mdlnas``).

Files are written to a temporary name and renamed into place, so a reader never sees a
half-written file even when several processes generate the same data at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

CACHE_ENV = "MDLNAS_CACHE"


def cache_dir() -> Path:
    """The cache directory: ``$MDLNAS_CACHE`` if set, else ``~/.cache/mdlnas``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "mdlnas"


def cache_key(prefix: str, args: dict[str, object]) -> str:
    """A file stem naming ``args`` exactly (sorted JSON, hashed)."""
    digest = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"


def load_arrays(stem: str) -> dict[str, NDArray[np.generic]] | None:
    """The arrays cached under ``stem``, or None if absent or unreadable (then regenerate)."""
    path = cache_dir() / f"{stem}.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, zipfile.BadZipFile):
        return None  # a corrupt file is rewritten by the next save


def save_arrays(stem: str, arrays: dict[str, NDArray[np.generic]]) -> None:
    """Cache ``arrays`` under ``stem`` atomically; a cache that cannot be written only warns,
    since the data is already in memory."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}-", suffix=".npz.tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
            os.chmod(tmp_name, 0o644)  # mkstemp makes it private; a cache may be shared
            os.replace(tmp_name, directory / f"{stem}.npz")
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as error:
        warnings.warn(
            f"could not write the data cache in {directory} ({error}); set {CACHE_ENV} "
            "to a writable directory to avoid regenerating the data",
            stacklevel=2,
        )
