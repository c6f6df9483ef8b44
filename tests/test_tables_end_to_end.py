"""A user's own files through every command: a European Excel table (semicolons, decimal
commas, UTF-16, a text column, gaps) and time series in a CSV, from `mdlnas search` to
`predict` and an ONNX export whose predictions equal predict's; and the bad inputs of
both, each one line and exit status 2."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from mdlnas.cli import main
from mdlnas.data.encoding import ENCODING_FILE, FeatureEncoding
from mdlnas.workflow.predict import load_predictor, read_features

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
COLOURS = ("blue", "green", "red")
# Tiny but complete runs: these tests check the files, not a search's quality.
QUICK = ["--epochs", "1", "--calibrate", "0", "--train-epochs", "3", "--layers", "1",
         "--channels", "4", "--device", "cpu", "--no-plots", "--quiet"]


def _excel_rows(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        colour = COLOURS[int(rng.integers(0, 3))]
        size = "" if i % 9 == 4 else f"{rng.normal() + (colour == 'red'):.3f}".replace(".", ",")
        rows.append(f"{colour};{size};{'yes' if colour == 'red' else 'no'}")
    return rows


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mdlnas: error: "), err
    for text in expected:
        assert text in err, err


@pytest.fixture(scope="module")
def excel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("excel")
    data = _write(root / "shop.csv", ["colour;size;label", *_excel_rows(60, 0)], "utf-16")
    run = root / "run"
    argv = ["search", "--data", str(data), "--target", "label", "--impute", "mean",
            "--out", str(run), *QUICK]
    assert main(argv) == 0
    return run


def test_the_run_keeps_its_encoding_and_predict_applies_it(
    excel_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encoding = FeatureEncoding.load(excel_run / ENCODING_FILE)
    assert encoding.output_names == ("colour=blue", "colour=green", "colour=red", "size")
    assert encoding.impute == "mean" and encoding.columns[1].fill is not None
    # New rows in another dialect: commas, UTF-8, columns in another order, a gap.
    query = _write(tmp_path / "new.csv", ["size,colour", "0.5,red", ",blue", "-1.25,green"])
    out = tmp_path / "pred.csv"
    assert main(["predict", str(excel_run), str(query), "--out", str(out), "--quiet"]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(r["prediction"] in ("no", "yes") for r in rows)
    # What the network was given: the one-hot colour and the size (the gap filled), as
    # computed here from the stored encoding.
    x = read_features(query, load_predictor(excel_run, "cpu"))
    fill = encoding.columns[1].fill
    np.testing.assert_array_equal(x, [[0, 0, 1, 0.5], [1, 0, 0, fill], [0, 1, 0, -1.25]])
    capsys.readouterr()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime")
def test_onnx_export_predicts_what_predict_does(excel_run: Path, tmp_path: Path) -> None:
    import onnxruntime

    query = _write(tmp_path / "q.csv", ["colour;size;label", *_excel_rows(12, 1)], "utf-16")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(excel_run), str(query), "--out", str(out), "--quiet"]) == 0
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(excel_run), "--format", "onnx", "--out", str(onnx),
                 "--quiet"]) == 0
    metadata = json.loads((tmp_path / "model.onnx.json").read_text())
    assert metadata["features"]["outputs"] == ["colour=blue", "colour=green", "colour=red",
                                               "size"]
    x = read_features(query, load_predictor(excel_run, "cpu")).astype(np.float32)
    session = onnxruntime.InferenceSession(str(onnx))
    probabilities = session.run(None, {"x": x})[0]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    classes = metadata["output"]["classes"]
    predicted = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    np.testing.assert_allclose(probabilities, predicted, atol=1e-5)
    assert [classes[k] for k in probabilities.argmax(axis=1)] == [r["prediction"] for r in rows]


def test_predict_refuses_unseen_categories_and_missing_columns(
    excel_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "p.csv")
    unseen = _write(tmp_path / "unseen.csv", ["colour,size", "red,1", "purple,2", "teal,3"])
    _fails(capsys, ["predict", str(excel_run), str(unseen), "--out", out],
           "column 'colour' holds categories the training data never had: purple, teal",
           "known: blue, green, red")
    no_size = _write(tmp_path / "no_size.csv", ["colour", "red"])
    _fails(capsys, ["predict", str(excel_run), str(no_size), "--out", out],
           "lacks the feature column(s) size")
    assert not (tmp_path / "p.csv").exists()


def _series_csv(path: Path, n: int, length: int) -> Path:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    x = rng.normal(size=(n, length)) + labels[:, None] * np.sin(np.arange(length))
    lines = [",".join(["label", *(f"t{t}" for t in range(length))])]
    lines += [",".join([str(y), *(f"{v:.5f}" for v in row)]) for y, row in zip(labels, x,
                                                                               strict=True)]
    return _write(path, lines)


def test_series_in_a_csv_reach_the_conv1d_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _series_csv(tmp_path / "series.csv", 30, 16)
    run = tmp_path / "run"
    argv = ["search", "--data", str(data), "--target", "label", "--space", "conv1d",
            "--out", str(run), *[a for a in QUICK if a != "--quiet"]]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "reads flat feature columns as one-channel series" in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["space"] == "conv1d"
    assert json.loads((run / "genotype.json").read_text())["input_shape"] == [1, 16]
    # the same file predicts; a shorter series is one clear line
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(data), "--out", str(out), "--quiet"]) == 0
    assert len(out.read_text().splitlines()) == 31
    short = _series_csv(tmp_path / "short.csv", 4, 12)
    _fails(capsys, ["predict", str(run), str(short), "--out", str(out)],
           "lacks the feature column(s) t12, t13, t14, t15")
    headerless = tmp_path / "short.tsv"
    headerless.write_text("1\t" + "\t".join(["0.5"] * 12) + "\n")
    _fails(capsys, ["predict", str(run), str(headerless), "--out", str(out)],
           "has 13 columns, but the model was trained on 16 feature columns")


def test_signal_mode_refuses_text_at_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["label,t0,t1,t2"] + [f"{i % 2},{i},{'high' if i == 3 else i},{i}" for i in range(20)]
    data = _write(tmp_path / "s.csv", lines)
    _fails(capsys, ["search", "--data", str(data), "--target", "label", "--signal",
                    "--out", str(tmp_path / "o")],
           "column 't1' holds the non-numeric value 'high' at data row 4",
           "with --signal every feature column is a time step")
    assert not (tmp_path / "o").exists()
