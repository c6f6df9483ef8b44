"""User arrays in NumPy's ``.npz``: features ``X`` and targets ``y`` (or ``target=``).

``X`` may be 2-D (tabular, ``(n, features)``), 3-D (signals, ``(n, channels, length)``) or
4-D (images, ``(n, channels, height, width)``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.assemble import build_bundle
from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig
from mdlnas.data.sources.files import existing_file
from mdlnas.data.targets import encode_targets
from mdlnas.errors import DataError

FEATURES_KEY = "X"
DEFAULT_TARGET_KEY = "y"


def read_arrays(file: Path, keys: Sequence[str]) -> dict[str, NDArray[np.generic]]:
    """The arrays ``keys`` of the NPZ archive ``file``, without pickles; every way a file
    can fail to be such an archive is one :class:`DataError` that names the file."""
    if not zipfile.is_zipfile(file):  # np.load would try it as a pickle instead
        raise DataError(f"cannot read NPZ file {file}: not a zip archive written by np.savez")
    try:
        # No pickles: loading one runs arbitrary code from the file.
        with np.load(file, allow_pickle=False) as archive:
            held = list(archive.files)
            missing = [key for key in keys if key not in held]
            if missing:
                wanted = ", ".join(f"{key}=..." for key in keys)
                raise DataError(
                    f"NPZ file {file} lacks the array(s) {', '.join(missing)}; it holds: "
                    f"{', '.join(held) or 'nothing'}. Save it with np.savez(path, {wanted})"
                )
            return {key: archive[key] for key in keys}
    except DataError:
        raise
    except MemoryError:  # a (possibly crafted) .npy header declares an enormous array
        raise DataError(
            f"cannot read NPZ file {file}: its arrays need more memory than is available"
        ) from None
    except ValueError as error:  # object arrays (they need pickle) or a malformed .npy
        hint = "; store numeric or string arrays" if "pickle" in str(error) else ""
        raise DataError(f"cannot read NPZ file {file}: {error}{hint}") from None
    # A file we did not write can fail in the zip layer or numpy's header parser in many
    # ways (bad CRC, zlib error, unsupported compression, encryption, ...): all mean the
    # same to the user.
    except Exception as error:
        raise DataError(f"cannot read NPZ file {file}: {error}") from None


def read_npz(file: Path, target_key: str) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    """The feature and target arrays of ``file``, checked for shape and type."""
    arrays = read_arrays(file, (FEATURES_KEY, target_key))
    return _checked(file, arrays[FEATURES_KEY], arrays[target_key], target_key)


def _checked(
    file: Path, x: NDArray[np.generic], y: NDArray[np.generic], target_key: str
) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    if x.ndim not in (2, 3, 4):
        hint = " (use X.reshape(-1, 1) for a single feature)" if x.ndim == 1 else ""
        raise DataError(
            f"NPZ file {file}: X must be 2-D (n, features), 3-D (n, channels, length) or "
            f"4-D (n, channels, height, width); got shape {x.shape}{hint}"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"NPZ file {file}: X must be numeric, got dtype {x.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]  # a column vector is the same targets
    if y.ndim != 1:
        raise DataError(f"NPZ file {file}: {target_key} must be 1-D (n,), got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(
            f"NPZ file {file}: X has {len(x)} rows but {target_key} has {len(y)}; they must match"
        )
    if len(x) == 0:
        raise DataError(f"NPZ file {file} holds no rows")
    return x, y


def load_npz(config: DataConfig) -> DataBundle:
    """An NPZ file; the task is inferred from the targets."""
    file = existing_file(config.name)
    x, raw_y = read_npz(file, config.target or DEFAULT_TARGET_KEY)
    targets = encode_targets(raw_y, config.task, source=f"NPZ file {file}")
    return build_bundle(config, file.name, x, targets)
