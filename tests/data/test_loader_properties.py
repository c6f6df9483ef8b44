"""Property: whatever a CSV or NPZ file holds, loading it gives a sound DataBundle or a
MdlnasError, never a raw error from csv, numpy or float()."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mdlnas.data import DataBundle, load_data
from mdlnas.errors import MdlnasError

# tmp_path is shared by the examples of one test; every example overwrites the same file.
SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_or_refuse(path: Path, target: str | None) -> DataBundle | None:
    try:
        return load_data(path, target=target, seed=0)
    except MdlnasError as exc:
        assert str(exc)
        return None


def _check_sound(bundle: DataBundle, n_rows: int) -> None:
    """What every later layer relies on, checked independently of the loader."""
    parts = (bundle.train, bundle.val, bundle.test)
    rows = np.concatenate([p.rows for p in parts if p.rows is not None])
    assert np.array_equal(np.sort(rows), np.arange(n_rows))  # a partition of the file
    assert len(bundle.train) >= 2 and len(bundle.val) >= 1 and len(bundle.test) >= 1
    for part in parts:
        assert part.x.dtype == np.float32 and part.x.shape[1:] == bundle.input_shape
        assert np.isfinite(part.x).all()
        if bundle.task == "classification":
            assert part.y.dtype == np.int64
            assert ((part.y >= 0) & (part.y < bundle.n_classes)).all()
        else:
            assert part.y.dtype == np.float32 and np.isfinite(part.y).all()
    assert bundle.scaling is not None
    assert np.isfinite(bundle.scaling.x_std).all() and (bundle.scaling.x_std > 0).all()
    if bundle.task == "classification":
        assert bundle.n_classes >= 2
        assert len(np.unique(bundle.train.y)) == bundle.n_classes  # every class is trained


# -- CSV -----------------------------------------------------------------------------------
# Finite values of every scale, including ones float32 cannot hold and subnormals.
finite = (
    st.floats(-1e6, 1e6)
    | st.integers(-1000, 1000)
    | st.sampled_from([0.0, 5e-324, 1e-300, 1e30, -1e37, 1e39, -1e300])
)
numbers = (
    finite.map(repr)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.sampled_from(["1_000", " 7 ", "0x10", "+.5", "-nan", "Infinity"])
)
cells = (
    numbers
    | st.sampled_from(["", "NA", "?", "null", "a", "b", "yes", '"q"', "x,y", "é", "\t"])
    | st.text(max_size=6)
)
names = st.sampled_from(["a", "b", "c", "y", "label", "1", "", " y "]) | st.text(max_size=4)


@dataclass
class Table:
    """A CSV text, the target to ask for and, for a well-formed table, what it holds."""

    text: str
    target: str | None
    features: np.ndarray | None = None  # (n, n_features) float64, as written
    labels: list[str] | None = None  # the target column, as written


@st.composite
def wild_tables(draw: st.DrawFn) -> Table:
    """Anything: ragged rows, odd names, text, missing values, broken quoting."""
    header = draw(st.lists(names, max_size=4))
    n_rows = draw(st.integers(0, 30))
    rows = [draw(st.lists(cells, max_size=len(header) + 1)) for _ in range(n_rows)]
    raw = "\n".join(",".join(row) for row in [header, *rows])  # maybe broken quoting
    text = raw
    if draw(st.booleans()):
        buffer = io.StringIO()
        try:
            csv.writer(buffer).writerows([header, *rows])  # valid quoting
            text = buffer.getvalue()
        except csv.Error:  # Python 3.10's writer cannot write some cells ("need to escape")
            pass
    return Table(text, draw(st.sampled_from([*header[-1:], None, "y", "missing"])))


@st.composite
def numeric_tables(draw: st.DrawFn) -> Table:
    """A well-formed table of finite numbers (so that many load), sometimes with one cell
    replaced by anything: errors are met next to inputs that are almost right."""
    n, width = draw(st.integers(5, 30)), draw(st.integers(1, 3))
    features = np.array(draw(st.lists(st.lists(finite, min_size=width, max_size=width),
                                      min_size=n, max_size=n)), dtype=np.float64)
    label = st.sampled_from(["0", "1", "2"]) if draw(st.booleans()) else finite.map(repr)
    labels = draw(st.lists(label, min_size=n, max_size=n))
    rows = [[*map(repr, features[i].tolist()), labels[i]] for i in range(n)]
    table = Table("", "y", features, labels)
    if draw(st.booleans()):
        row, column = draw(st.integers(0, n - 1)), draw(st.integers(0, width))
        rows[row][column] = draw(cells)
        table.features = table.labels = None  # no longer known for sure
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[*"abc"[:width], "y"], *rows])
    table.text = buffer.getvalue()
    return table


def _check_values(bundle: DataBundle, table: Table) -> None:
    """The parts hold the file's own rows: unscaled features and labels match the text."""
    assert table.features is not None and table.labels is not None and bundle.scaling
    scale = np.abs(table.features).max() + bundle.scaling.x_std.max()
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.rows is not None
        unscaled = part.x.astype(np.float64) * bundle.scaling.x_std + bundle.scaling.x_mean
        np.testing.assert_allclose(unscaled, table.features[part.rows], rtol=1e-4,
                                   atol=1e-5 * scale)
        written = [table.labels[i] for i in part.rows]
        if bundle.task == "classification":
            names = [bundle.class_names[k] for k in part.y]
            assert [float(a) for a in names] == [float(b) for b in written]
        else:  # float32 z-scores: exact to about 1e-7 of the spread of the whole column
            expected = np.array([float(v) for v in written])
            spread = max(abs(float(v)) for v in table.labels) + bundle.scaling.y_std
            np.testing.assert_allclose(bundle.scaling.inverse_y(part.y.astype(np.float64)),
                                       expected, rtol=1e-4, atol=1e-5 * spread)


@SETTINGS
@given(numeric_tables() | wild_tables())
def test_any_csv_loads_soundly_or_raises_mdlnas_error(tmp_path: Path, table: Table) -> None:
    path = tmp_path / "table.csv"
    path.write_text(table.text, encoding="utf-8")
    bundle = _load_or_refuse(path, table.target)
    if bundle is not None:
        n_rows = sum(len(p) for p in (bundle.train, bundle.val, bundle.test))
        _check_sound(bundle, n_rows)
        if table.features is not None:
            assert n_rows == len(table.features)
            _check_values(bundle, table)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_csv_load_or_raise_mdlnas_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bytes.csv"
    path.write_bytes(content)
    _load_or_refuse(path, "y")


def test_a_numeric_csv_that_should_load_does(tmp_path: Path) -> None:
    """Guards the property above against passing only because everything is refused."""
    text = "a,b,y\n" + "".join(f"{i},{i * 0.5},{i % 2}\n" for i in range(20))
    path = tmp_path / "ok.csv"
    path.write_text(text)
    bundle = _load_or_refuse(path, "y")
    assert bundle is not None
    _check_sound(bundle, 20)


# -- NPZ -----------------------------------------------------------------------------------
any_dtype = (
    hnp.integer_dtypes()
    | hnp.unsigned_integer_dtypes()
    | hnp.floating_dtypes()
    | hnp.boolean_dtypes()
    | hnp.complex_number_dtypes()
    | hnp.unicode_string_dtypes(max_len=3)
    | hnp.byte_string_dtypes(max_len=3)
    | hnp.datetime64_dtypes()
    | hnp.timedelta64_dtypes()
)


@st.composite
def wild_arrays(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], str | None]:
    """Arrays of any dtype and shape, X and y of different lengths, keys missing."""
    n = draw(st.integers(0, 25))
    x_shape = draw(
        st.sampled_from([(n, 3), (n, 1, 4), (n, 1, 2, 2), (n,), (n, 0), ()])
        | hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4)
    )
    y_shape = draw(st.sampled_from([(n,), (n, 1), (n + 1,), (n, 2), ()]))
    arrays = {"X": draw(hnp.arrays(draw(any_dtype), x_shape)),
              "y": draw(hnp.arrays(draw(any_dtype), y_shape))}
    for key in draw(st.sets(st.sampled_from(["X", "y"]), max_size=1)):
        del arrays[key]
    if draw(st.integers(0, 9)) == 0:
        arrays["extra"] = np.array([{"pickled": 1}], dtype=object)
    return arrays, draw(st.sampled_from([None, "y", "X", "extra", "nope"]))


@st.composite
def numeric_arrays(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], str | None]:
    """Tables, signals and images of finite numbers with class or real targets (many load),
    sometimes with one value replaced by NaN, infinity or one too large for float32."""
    n = draw(st.integers(5, 25))
    shape = draw(st.sampled_from([(n, 3), (n, 1, 4), (n, 2, 2, 2)]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_]))
    elements = finite.filter(lambda v: abs(v) < 1e30) if dtype == np.float32 else finite
    if dtype != np.float64 and dtype != np.float32:
        elements = st.integers(0, 1) if dtype == np.bool_ else st.integers(0, 255)
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if draw(st.booleans()):
        y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 2)))
    else:
        y = draw(hnp.arrays(np.float64, (n,), elements=finite))
    if x.dtype.kind == "f" and draw(st.booleans()):
        with np.errstate(over="ignore"):  # 1e39 overflows float32 to inf: bad input on purpose
            x.flat[draw(st.integers(0, x.size - 1))] = draw(
                st.sampled_from([np.nan, np.inf, 1e39]))
    return {"X": x, "y": y}, None


@SETTINGS
@given(numeric_arrays() | wild_arrays())
def test_any_npz_loads_soundly_or_raises_mdlnas_error(
    tmp_path: Path, case: tuple[dict[str, np.ndarray], str | None]
) -> None:
    arrays, target = case
    path = tmp_path / "arrays.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    bundle = _load_or_refuse(path, target)
    if bundle is not None:
        x, y = arrays["X"], arrays[target or "y"].reshape(len(arrays["X"]), -1)[:, 0]
        _check_sound(bundle, n_rows=len(x))
        assert bundle.scaling is not None
        for part in (bundle.train, bundle.val, bundle.test):  # the file's own rows
            assert part.rows is not None
            unscaled = part.x.astype(np.float64) * bundle.scaling.x_std + bundle.scaling.x_mean
            scale = np.abs(x.astype(np.float64)).max() + bundle.scaling.x_std.max()
            np.testing.assert_allclose(unscaled, x[part.rows], rtol=1e-4, atol=1e-5 * scale)
            if bundle.task == "classification":  # one class per distinct target value
                pairs = set(zip(y[part.rows].tolist(), part.y.tolist(), strict=True))
                assert len(pairs) == len({v for v, _ in pairs}) == len({k for _, k in pairs})


def _valid_npz_bytes(compressed: bool) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    save = np.savez_compressed if compressed else np.savez
    save(buffer, X=rng.normal(size=(20, 3)), y=np.arange(20) % 2)
    return buffer.getvalue()


# Stored and deflated archives fail in different layers (CRC checks vs zlib).
VALID_NPZ = [_valid_npz_bytes(compressed=False), _valid_npz_bytes(compressed=True)]


@SETTINGS
@given(st.sampled_from(VALID_NPZ).flatmap(
    lambda valid: st.tuples(
        st.just(valid),
        st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)),
                 min_size=1, max_size=8),
    )
))
def test_corrupted_npz_loads_soundly_or_raises_mdlnas_error(
    tmp_path: Path, case: tuple[bytes, list[tuple[int, int]]]
) -> None:
    valid, flips = case
    content = bytearray(valid)
    for position, value in flips:
        content[position] = value
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(content))
    bundle = _load_or_refuse(path, None)
    if bundle is not None:
        _check_sound(bundle, n_rows=sum(len(p) for p in (bundle.train, bundle.val, bundle.test)))


@SETTINGS
@given(st.binary(max_size=400))
def test_npz_member_with_any_content_loads_or_raises_mdlnas_error(
    tmp_path: Path, member: bytes
) -> None:
    """A real zip whose X.npy is arbitrary bytes: the .npy header parser must not leak."""
    assume(member)
    path = tmp_path / "member.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"\x93NUMPY\x01\x00" + member)
        archive.writestr("y.npy", member)
    _load_or_refuse(path, None)


def test_a_crafted_npy_header_cannot_allocate_huge_arrays(tmp_path: Path) -> None:
    header: dict[str, Any] = {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)}
    text = repr(header).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)
        archive.writestr("y.npy", b"")
    assert _load_or_refuse(path, None) is None
