"""Source-specific behaviour: the mnist1d cache and generator, IDX and Fashion-MNIST files."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from mdlnas.data import DataBundle, load_data
from mdlnas.data.cache import CACHE_ENV, cache_dir
from mdlnas.data.sources import fashion_mnist, mnist1d
from mdlnas.data.sources.idx import read_idx
from mdlnas.errors import DataError

# --- mnist1d -----------------------------------------------------------------------------


def test_mnist1d_generation_restores_global_rngs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pytest.importorskip("mnist1d.data")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))

    def reseeding_make_dataset(args: object) -> dict[str, np.ndarray]:
        data.set_seed(42)  # what the real make_dataset does first
        return _fake_mnist1d()

    monkeypatch.setattr(data, "make_dataset", reseeding_make_dataset)
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    mnist1d.generate_mnist1d()
    # Without the restore both streams would restart from seed 42.
    assert (np.random.random(), random.random()) == expected


def test_mnist1d_real_generation(load_once: Callable[..., DataBundle]) -> None:
    pytest.importorskip("mnist1d")
    arrays = mnist1d.generate_mnist1d()  # offline: the conftest blocks the network
    assert arrays["x"].shape == (4000, 40) and arrays["x_test"].shape == (1000, 40)
    assert np.array_equal(np.bincount(arrays["y"]) + np.bincount(arrays["y_test"]), [500] * 10)
    # The bundle's test part is the generated test part, scaled with the train statistics.
    bundle = load_once("mnist1d")
    assert bundle.scaling is not None
    expected = bundle.scaling.transform_x(arrays["x_test"][:, None])
    np.testing.assert_allclose(bundle.test.x, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(bundle.test.y, arrays["y_test"])


def test_mnist1d_pinned_args_are_the_papers_defaults() -> None:
    data = pytest.importorskip("mnist1d.data")
    defaults = {k: v for k, v in vars(data.get_dataset_args()).items() if k != "url"}
    assert defaults == mnist1d.GENERATION_ARGS


def test_mnist1d_cache_hit_skips_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    calls: list[int] = []

    def generate() -> dict[str, np.ndarray]:
        calls.append(1)
        return _fake_mnist1d()

    monkeypatch.setattr(mnist1d, "_generate", generate)
    first = load_data("mnist1d")
    (cached,) = tmp_path.glob("mnist1d-*.npz")
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed into place
    again = load_data("mnist1d")
    assert len(calls) == 1
    assert np.array_equal(first.train.x, again.train.x)
    assert np.array_equal(first.test.y, again.test.y)

    cached.write_bytes(b"truncated")  # a corrupt cache file is regenerated, not fatal
    assert np.array_equal(load_data("mnist1d").train.x, first.train.x)
    assert len(calls) == 2


def test_mnist1d_missing_package_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    with pytest.raises(DataError, match="pip install mnist1d"):
        load_data("mnist1d")


def test_mnist1d_unwritable_cache_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(mnist1d, "_generate", lambda: _fake_mnist1d())
    with pytest.warns(UserWarning, match="could not write the data cache"):
        bundle = load_data("mnist1d")
    assert bundle.input_shape == (1, 40) and len(bundle.test) == 20


def _fake_mnist1d() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=(100, 40)),
        "y": np.arange(100) % 10,
        "x_test": rng.normal(size=(20, 40)),
        "y_test": np.arange(20) % 10,
    }


def test_heavy_imports_are_lazy() -> None:
    # mnist1d pulls in matplotlib.pyplot and scipy, sklearn takes ~1 s: importing the data
    # layer (as every CLI call does) must not pay for them.
    code = "import sys, mdlnas.data; print(sorted({'mnist1d', 'sklearn'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- IDX and Fashion-MNIST ----------------------------------------------------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_fashion(directory: Path, n_train: int = 40, n_test: int = 20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.integers(0, 256, size=(n_train, 28, 28)),
        "y": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28)),
        "y_test": np.arange(n_test) % 10,
    }
    for key, stem in fashion_mnist.FILES.items():
        (directory / f"{stem}.gz").write_bytes(gzip.compress(_idx_bytes(arrays[key])))
    return arrays


def test_read_idx_round_trip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    plain, packed = tmp_path / "a-idx3-ubyte", tmp_path / "a-idx3-ubyte.gz"
    plain.write_bytes(_idx_bytes(array))
    packed.write_bytes(gzip.compress(_idx_bytes(array)))
    assert np.array_equal(read_idx(plain), array)
    assert np.array_equal(read_idx(packed), array)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01\x00\x08\x01", "bad magic"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01", "only unsigned bytes"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "promises 5 values"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_read_idx_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)


def test_fashion_mnist_from_data_dir(tmp_path: Path) -> None:
    arrays = _write_fashion(tmp_path)
    bundle = load_data("fashion-mnist", data_dir=tmp_path, seed=1)
    assert bundle.input_shape == (1, 28, 28) and bundle.modality == "image"
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (32, 8, 20)
    assert bundle.train.rows is not None and bundle.scaling is not None
    assert bundle.scaling.x_mean.shape == (1, 1, 1)  # one channel: a single global scalar
    raw = arrays["x"][bundle.train.rows][:, None]
    assert float(bundle.scaling.x_mean.item()) == pytest.approx(raw.mean(), rel=1e-6)
    assert float(bundle.scaling.x_std.item()) == pytest.approx(raw.std(), rel=1e-6)
    assert np.array_equal(bundle.test.y, arrays["y_test"])
    np.testing.assert_allclose(
        bundle.test.x, bundle.scaling.transform_x(arrays["x_test"][:, None].astype(np.float32))
    )


def test_fashion_mnist_missing_files_name_the_package_and_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset-fashion-mnist.*--data-dir"):
        load_data("fashion-mnist", data_dir=tmp_path)


def test_fashion_mnist_label_count_mismatch(tmp_path: Path) -> None:
    _write_fashion(tmp_path)
    labels = tmp_path / f"{fashion_mnist.FILES['y']}.gz"
    labels.write_bytes(gzip.compress(_idx_bytes(np.zeros(39, dtype=np.uint8))))
    with pytest.raises(DataError, match=r"holds 40 images but .* 39 labels"):
        load_data("fashion-mnist", data_dir=tmp_path)
