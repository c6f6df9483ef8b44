"""Tables as users write them: dialects, encodings, categories, gaps, series in columns.

Every expected value is computed here from what the test wrote, not read back from the
loader: the one-hot columns, the filled values and the series' layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mdlnas.data import DataBundle, load_data
from mdlnas.data.encoding import MAX_CATEGORIES, FeatureEncoding
from mdlnas.data.split import plan_sizes, split_indices
from mdlnas.errors import DataError

COLOURS = ("blue", "green", "red")


def _unscaled(bundle: DataBundle) -> tuple[np.ndarray, np.ndarray]:
    """Every sample in the file's order, unscaled, and its class index."""
    assert bundle.scaling is not None
    n = sum(len(p) for p in (bundle.train, bundle.val, bundle.test))
    x = np.zeros((n, *bundle.input_shape))
    y = np.zeros(n, dtype=np.int64)
    for part in (bundle.train, bundle.val, bundle.test):
        assert part.rows is not None
        x[part.rows] = part.x.astype(np.float64) * bundle.scaling.x_std + bundle.scaling.x_mean
        y[part.rows] = part.y
    return x, y


def _training_rows(labels: np.ndarray, seed: int) -> np.ndarray:
    """The training part of the default 60 / 20 / 20 split, rebuilt from the split rules."""
    codes = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    sizes = plan_sizes(len(labels), val_fraction=0.2, test_fraction=0.2, n_train=None)
    return split_indices(codes, sizes, np.random.default_rng(seed), len(labels))[0]


def _excel_table(n: int = 60) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A European Excel export: semicolons, decimal commas, a text column, gaps."""
    rng = np.random.default_rng(0)
    colour = np.array(COLOURS)[rng.integers(0, 3, n)]
    weight = rng.normal(size=n).round(3)
    weight[[4, 17, 33]] = np.nan
    label = np.where(colour == "red", "yes", "no")
    lines = ["colour;weight;label"]
    for c, w, t in zip(colour, weight, label, strict=True):
        lines.append(f"{c};{'' if np.isnan(w) else str(w).replace('.', ',')};{t}")
    return lines, colour, weight, label


def test_semicolons_utf16_decimal_commas_categories_and_imputed_gaps(tmp_path: Path) -> None:
    lines, colour, weight, label = _excel_table()
    path = tmp_path / "excel.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-16")  # Excel's "Unicode text"
    with pytest.raises(DataError, match=r"column 'weight' is missing a value at data row 5"):
        load_data(path, target="label")
    bundle = load_data(path, target="label", impute="median", seed=2)
    encoding = bundle.encoding
    assert encoding is not None and encoding.decimal_comma and encoding.target == "label"
    assert encoding.output_names == ("colour=blue", "colour=green", "colour=red", "weight")
    train = _training_rows(label, seed=2)
    median = float(np.median(weight[train][~np.isnan(weight[train])]))
    assert encoding.columns[1].fill == pytest.approx(median)
    expected = np.column_stack([colour == c for c in COLOURS] + [weight]).astype(float)
    expected[np.isnan(weight), 3] = median
    x, y = _unscaled(bundle)
    np.testing.assert_allclose(x, expected, atol=1e-5)
    assert [bundle.class_names[k] for k in y] == label.tolist()


def test_categories_come_from_the_training_rows_only(tmp_path: Path) -> None:
    _, colour, _, label = _excel_table()
    train = set(_training_rows(label, seed=0).tolist())
    held_out = next(i for i in range(len(colour)) if i not in train)
    colour[held_out] = "purple"  # a category only a held-out row has
    rows = [f"{c};1;{t}" for c, t in zip(colour, label, strict=True)]
    path = tmp_path / "rare.csv"
    path.write_text("\n".join(["colour;weight;label", *rows]) + "\n", encoding="utf-8")
    bundle = load_data(path, target="label", seed=0)
    assert bundle.encoding is not None
    assert bundle.encoding.columns[0].categories == COLOURS  # purple was never trained on
    x, _ = _unscaled(bundle)
    np.testing.assert_allclose(x[held_out, :3], 0.0, atol=1e-6)  # none of the known ones


def test_the_encoding_does_not_depend_on_n_train(tmp_path: Path) -> None:
    lines, *_ = _excel_table()
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    full = load_data(path, target="label", impute="mean")
    small = load_data(path, target="label", impute="mean", n_train=10)
    assert small.encoding == full.encoding  # one encoding serves search and retraining
    assert len(small.train) == 10


def test_encoding_survives_its_json(tmp_path: Path) -> None:
    lines, *_ = _excel_table()
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    encoding = load_data(path, target="label", impute="mean").encoding
    assert encoding is not None
    encoding.save(tmp_path / "encoding.json")
    assert FeatureEncoding.load(tmp_path / "encoding.json") == encoding


def test_ucr_text_files_are_series_with_the_label_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    series = rng.normal(size=(40, 12))
    labels = np.arange(40) % 2 + 1
    rows = [[label, *row] for label, row in zip(labels, series, strict=True)]
    path = tmp_path / "Toy_TRAIN.tsv"
    np.savetxt(path, rows, delimiter="\t")  # the UCR 2018 layout: tabs, no header
    bundle = load_data(path, signal=1)
    assert bundle.input_shape == (1, 12) and bundle.modality == "signal"
    assert bundle.encoding is not None and bundle.encoding.headerless
    x, y = _unscaled(bundle)
    np.testing.assert_allclose(x[:, 0, :], series, rtol=1e-5, atol=1e-5)
    assert [bundle.class_names[k] for k in y] == [str(v) for v in labels]
    # the older archive's files: numbers separated by runs of spaces
    spaced = tmp_path / "Toy_TRAIN.txt"
    np.savetxt(spaced, rows, fmt="%15.7e")
    assert load_data(spaced, signal=1).input_shape == (1, 12)
    # without a header, another column is the target by its position
    assert load_data(path, target="12").input_shape == (12,)


def test_sktimes_bundled_ucr_file_reads_directly() -> None:
    datasets = pytest.importorskip("sktime.datasets")
    path = Path(datasets.__file__).parent / "data" / "ArrowHead" / "ArrowHead_TRAIN.tsv"
    expected = datasets.load_arrow_head(split="train", return_X_y=True,
                                        return_type="numpy3D")
    bundle = load_data(path, signal=1, val_fraction=0.15, test_fraction=0.15)
    assert bundle.input_shape == expected[0].shape[1:] == (1, 251)
    x, y = _unscaled(bundle)
    np.testing.assert_allclose(x, expected[0], rtol=1e-4, atol=1e-4)
    assert [bundle.class_names[k] for k in y] == [str(v) for v in expected[1]]


def test_channels_follow_one_another_in_the_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3, 8))  # (n, channels, length)
    names = [f"c{c}_t{t}" for c in range(3) for t in range(8)]
    flat = x.reshape(30, 24)
    lines = [",".join(["label", *names])]
    lines += [",".join([str(i % 3), *map(repr, row.tolist())]) for i, row in enumerate(flat)]
    path = tmp_path / "motion.csv"
    path.write_text("\n".join(lines) + "\n")
    bundle = load_data(path, target="label", signal=3)
    assert bundle.input_shape == (3, 8)
    got, _ = _unscaled(bundle)
    np.testing.assert_allclose(got, x, rtol=1e-5, atol=1e-5)
    # per channel: one mean over the steps of every training series
    assert bundle.scaling is not None and bundle.scaling.x_mean.shape == (3, 1)
    with pytest.raises(DataError, match="24 feature columns cannot be 5 channels"):
        load_data(path, target="label", signal=5)


def test_signal_mode_refuses_a_text_column(tmp_path: Path) -> None:
    lines = ["label,t0,t1,t2"] + [f"{i % 2},{i},{'x' if i == 7 else i},{i}" for i in range(20)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"'x' at data row 8; with --signal every feature "
                       "column is a time step"):
        load_data(path, target="label", signal=1)


def test_a_column_of_identifiers_is_not_a_category(tmp_path: Path) -> None:
    n = MAX_CATEGORIES * 2
    lines = ["id,x,y"] + [f"user{i},{i},{i % 2}" for i in range(n)]
    path = tmp_path / "ids.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'id' holds \d+ distinct texts.*Drop that"):
        load_data(path, target="y")


def test_a_row_longer_than_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,y\n1,0,5\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(DataError, match="more fields than the header"):
        load_data(path, target="y")
