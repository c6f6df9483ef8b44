"""User files: CSV and NPZ round trips, task inference, and every DataError case."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mdlnas.data import DataBundle, load_data
from mdlnas.data.targets import MAX_INFERRED_CLASSES
from mdlnas.errors import DataError


def _write_csv(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _all_rows(bundle: DataBundle) -> np.ndarray:
    rows = [part.rows for part in (bundle.train, bundle.val, bundle.test)]
    assert all(r is not None for r in rows)
    return np.concatenate([r for r in rows if r is not None])


# --- CSV ---------------------------------------------------------------------------------


def test_csv_round_trip_with_string_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 60
    a, b = rng.normal(size=n), rng.normal(loc=50.0, scale=5.0, size=n)
    species = np.array(["setosa", "virginica", "versicolor"])[np.arange(n) % 3]
    path = _write_csv(
        tmp_path / "plants.csv",
        ["a", "species", "b"],
        [[f"{a[i]:.6f}", species[i], f"{b[i]:.6f}"] for i in range(n)],
    )
    bundle = load_data(path, target="species", seed=1)
    assert bundle.name == "plants.csv"
    assert bundle.task == "classification"
    assert bundle.class_names == ("setosa", "versicolor", "virginica")  # sorted labels
    assert bundle.input_shape == (2,) and bundle.modality == "tabular"
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (36, 12, 12)
    assert np.array_equal(np.sort(_all_rows(bundle)), np.arange(n))
    assert bundle.scaling is not None
    features = np.column_stack([a, b]).round(6)
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.rows is not None
        names = np.array(bundle.class_names)[part.y]
        assert np.array_equal(names, species[part.rows])  # labels follow their rows
        unscaled = part.x * bundle.scaling.x_std + bundle.scaling.x_mean
        np.testing.assert_allclose(unscaled, features[part.rows], rtol=1e-5, atol=1e-5)
        # Stratified: 3 balanced classes, so each part is within a row of a third each.
        assert np.all(np.abs(np.bincount(part.y, minlength=3) - len(part) / 3) <= 1)


def test_csv_regression_target_in_user_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(40, 3))
    y = 1000.0 + 250.0 * x[:, 0] + rng.normal(size=40)
    rows = [[*(f"{v:.8f}" for v in x[i]), f"{y[i]:.8f}"] for i in range(40)]
    bundle = load_data(
        _write_csv(tmp_path / "r.csv", ["p", "q", "r", "price"], rows), target="price"
    )
    assert bundle.task == "regression" and bundle.n_classes == 0 and bundle.output_dim == 1
    assert bundle.scaling is not None and bundle.test.rows is not None
    assert bundle.train.y.dtype == np.float32
    back = bundle.scaling.inverse_y(bundle.test.y)
    np.testing.assert_allclose(back, y[bundle.test.rows], rtol=1e-6)


def test_csv_with_bom_quotes_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    body = '"f 1","label"\n' + "".join(f'{i},"{"yes" if i % 2 else "no"}"\n\n' for i in range(10))
    path.write_text("\ufeff" + body, encoding="utf-8")
    bundle = load_data(path, target="label")
    assert bundle.class_names == ("no", "yes") and bundle.input_shape == (1,)


def test_integer_targets_with_many_values_are_regression(tmp_path: Path) -> None:
    n = MAX_INFERRED_CLASSES + 10
    rows = [[i * 0.5, i] for i in range(n)]
    path = _write_csv(tmp_path / "ages.csv", ["x", "age"], rows)
    assert load_data(path, target="age").task == "regression"
    # As classes, each age has one row: the training part cannot hold them all.
    with pytest.raises(DataError, match=f"too small to hold all {n} classes"):
        load_data(path, target="age", task="classification")


def test_integer_targets_with_few_values_are_classes(tmp_path: Path) -> None:
    rows = [[i, (i % 3) * 10] for i in range(30)]  # labels 0, 10, 20
    path = _write_csv(tmp_path / "c.csv", ["x", "y"], rows)
    bundle = load_data(path, target="y")
    assert bundle.task == "classification" and bundle.class_names == ("0", "10", "20")
    assert load_data(path, target="y", task="regression").task == "regression"


def _rows(n: int = 20) -> str:
    """``n`` well-formed data rows of the columns a, b, y."""
    return "".join(f"{i},{i * 2},{i % 2}\n" for i in range(n))


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("", "y", "is empty"),
        ("\n\n", "y", "is empty"),
        ("a,y\n", "y", "no data rows"),
        ("1,2\n3,4\n", "y", r"no column 'y'; columns: 0, 1 \(it has no header row"),
        ("a,b,y\n1,2,0\n", None, r"name the target column .*columns: a, b, y"),
        ("a,b,y\n1,2,0\n", "label", r"no column 'label'; columns: a, b, y"),
        ("y\n1\n2\n", "y", "no feature columns"),
        ("a,a,y\n1,2,0\n", "y", "unique"),
        ("a,y\n1,0\n2,1,5\n", "y", "Expected 2 fields in line 3, saw 3"),
        ("a,b,y\n" + _rows().replace("3,6,1", "3,six,1"), "y",
         r"column 'b' holds the non-numeric value 'six' at data row 4; a numeric column"),
        ("a,b,y\n" + _rows().replace("1,2,1", ",2,1"), "y",
         r"column 'a' is missing a value at data row 2 \(1 missing in all\).*--impute"),
        ("a,b,y\n" + _rows().replace("1,2,1", "NA,2,1"), "y",
         r"column 'a' is missing a value at data row 2"),
        ("a,b,y\n" + _rows().replace("1,2,1", "?,2,1"), "y",
         r"column 'a' is missing a value at data row 2"),
        ("a,b,y\n" + _rows().replace("1,2,1", "inf,2,1"), "y",
         r"column 'a' holds 'inf' at data row 2; values must be finite"),
        ("a,b,y\n" + _rows().replace("1,2,1", "1,2,"), "y",
         r"target has a missing.* \(first at row 1\)"),
    ],
)
def test_csv_errors(tmp_path: Path, content: str, target: str | None, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_data(path, target=target)


def test_csv_single_class(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "one.csv", ["x", "y"], [[i, "cat"] for i in range(20)])
    with pytest.raises(DataError, match="single class"):
        load_data(path, target="y")


def test_csv_constant_regression_target(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "flat.csv", ["x", "y"], [[i, 2.5] for i in range(20)])
    with pytest.raises(DataError, match="constant"):
        load_data(path, target="y")


def test_csv_too_few_rows(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "tiny.csv", ["x", "y"], [[1, 0], [2, 1], [3, 0]])
    with pytest.raises(DataError, match=r"too few rows \(3\)"):
        load_data(path, target="y")


def test_csv_in_a_windows_code_page_is_read_in_it(tmp_path: Path) -> None:
    # Excel's "CSV (comma delimited)" on Windows writes the machine's code page, not UTF-8.
    path = tmp_path / "latin.csv"
    rows = "".join(f"{i},{'café' if i % 2 else 'thé'}\n" for i in range(20))
    path.write_bytes(("a,drink\n" + rows).encode("cp1252"))
    assert load_data(path, target="drink").class_names == ("café", "thé")


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_missing_file(tmp_path: Path, suffix: str) -> None:
    with pytest.raises(DataError, match="data file not found"):
        load_data(tmp_path / f"absent{suffix}", target="y")


def test_directory_is_not_a_data_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="not a regular file"):
        load_data(folder, target="y")


# --- NPZ ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "modality"),
    [((80, 6), "tabular"), ((80, 2, 16), "signal"), ((80, 3, 5, 4), "image")],
)
def test_npz_round_trip(tmp_path: Path, shape: tuple[int, ...], modality: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape) * 3 + 1
    y = np.arange(shape[0]) % 4
    path = tmp_path / "arrays.npz"
    np.savez(path, X=x, y=y)
    bundle = load_data(path, seed=5)
    assert bundle.modality == modality and bundle.input_shape == shape[1:]
    assert bundle.task == "classification" and bundle.class_names == ("0", "1", "2", "3")
    assert np.array_equal(np.sort(_all_rows(bundle)), np.arange(shape[0]))
    assert bundle.scaling is not None
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.rows is not None and part.x.dtype == np.float32 and part.y.dtype == np.int64
        assert np.array_equal(part.y, y[part.rows])
        unscaled = part.x * bundle.scaling.x_std + bundle.scaling.x_mean
        np.testing.assert_allclose(unscaled, x[part.rows], rtol=1e-5, atol=1e-5)


def test_npz_string_labels_column_vector_and_custom_key(tmp_path: Path) -> None:
    x = np.arange(40.0).reshape(20, 2)
    labels = np.array(["b", "a"] * 10).reshape(-1, 1)
    path = tmp_path / "named.npz"
    np.savez(path, X=x, label=labels)
    bundle = load_data(path, target="label")
    assert bundle.class_names == ("a", "b") and bundle.task == "classification"


def test_npz_float_targets_are_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    path = tmp_path / "reg.npz"
    np.savez(path, X=rng.normal(size=(30, 2)), y=rng.normal(size=30))
    bundle = load_data(path)
    assert bundle.task == "regression" and bundle.train.y.dtype == np.float32


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.zeros(10)}, r"lacks the array\(s\) X; it holds: y"),
        ({"X": np.zeros((10, 2))}, r"lacks the array\(s\) y; it holds: X"),
        ({"X": np.zeros((10, 2)), "y": np.zeros(9)}, "X has 10 rows but y has 9"),
        ({"X": np.zeros(10), "y": np.zeros(10)}, r"reshape\(-1, 1\)"),
        ({"X": np.zeros((2, 2, 2, 2, 2)), "y": np.zeros(2)}, "2-D"),
        ({"X": np.array([["a", "b"]] * 10), "y": np.arange(10) % 2}, "X must be numeric"),
        ({"X": np.zeros((10, 2)), "y": np.zeros((10, 2))}, "must be 1-D"),
        ({"X": np.zeros((0, 2)), "y": np.zeros(0)}, "holds no rows"),
        ({"X": np.zeros((10, 2)), "y": np.zeros(10)}, "single class"),
        ({"X": np.ones((10, 2)), "y": np.full(10, 0.5)}, "regression target is constant"),
        (
            {"X": np.r_[np.zeros((9, 2)), [[np.nan, 0]]], "y": np.arange(10) % 2},
            r"NaN or infinite values \(first at row 9\)",
        ),
        (
            {"X": np.zeros((10, 2)), "y": np.r_[np.arange(9.0) * 0.3, np.inf]},
            r"target has a missing, NaN or infinite value \(first at row 9\)",
        ),
        ({"X": np.zeros((3, 2)), "y": np.arange(3) % 2}, r"too few rows \(3\)"),
    ],
)
def test_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_data(_npz(tmp_path, **arrays))


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(path, X=np.zeros((10, 2)), y=np.array([{"a": 1}] * 10, dtype=object))
    with pytest.raises(DataError, match="store numeric or string arrays"):
        load_data(path)


def test_npz_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError, match="cannot read NPZ"):
        load_data(path)
