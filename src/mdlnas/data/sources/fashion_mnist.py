"""Fashion-MNIST (Xiao et al. 2017): 70,000 28×28 grey images of clothing, 10 classes.

Read from the four standard IDX files, by default where the Debian / Ubuntu package
``dataset-fashion-mnist`` installs them, or from ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.assemble import FixedTest, build_bundle
from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig
from mdlnas.data.sources.idx import read_idx
from mdlnas.data.targets import Targets
from mdlnas.errors import DataError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def find_files(data_dir: str | None) -> dict[str, Path]:
    """Paths of the four files, from ``data_dir`` or the Debian package's directory."""
    directory = Path(data_dir).expanduser() if data_dir else DEBIAN_DIR
    found = {key: _find(directory, stem) for key, stem in FILES.items()}
    missing = [FILES[key] + ".gz" for key, path in found.items() if path is None]
    if missing:
        raise DataError(
            f"fashion-mnist files not found in {directory} (missing: {', '.join(missing)}). "
            "Install them with `apt-get install dataset-fashion-mnist` (Debian / Ubuntu, puts "
            f"them in {DEBIAN_DIR}) or pass --data-dir / data_dir= naming a directory that "
            "holds the four standard files (gzipped or not)"
        )
    return {key: path for key, path in found.items() if path is not None}


def _read(files: dict[str, Path]) -> dict[str, NDArray[np.uint8]]:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for images, labels in (("x", "y"), ("x_test", "y_test")):
        if arrays[images].ndim != 3 or arrays[labels].ndim != 1:
            raise DataError(
                f"{files[images]} / {files[labels]}: expected images (n, 28, 28) and labels "
                f"(n,), got {arrays[images].shape} and {arrays[labels].shape}"
            )
        if len(arrays[images]) != len(arrays[labels]):
            raise DataError(
                f"{files[images]} holds {len(arrays[images])} images but {files[labels]} "
                f"{len(arrays[labels])} labels"
            )
        # np.max, not the method: numpy 2.5's stubs reject ndarray.max(initial=...)
        if int(np.max(arrays[labels], initial=0)) >= len(CLASS_NAMES):
            raise DataError(f"{files[labels]}: labels must lie in 0..{len(CLASS_NAMES) - 1}")
    return arrays


def load_fashion_mnist(config: DataConfig) -> DataBundle:
    """Images of shape (1, 28, 28); val is carved from the 60,000 training images, the
    10,000 test images are kept. ``n_train`` subsamples the training part."""
    arrays = _read(find_files(config.data_dir))

    def targets(y: NDArray[np.uint8]) -> Targets:
        return Targets("classification", y.astype(np.int64), CLASS_NAMES)

    test = FixedTest(arrays["x_test"][:, None], targets(arrays["y_test"]))
    return build_bundle(config, config.name, arrays["x"][:, None], targets(arrays["y"]), test=test)
