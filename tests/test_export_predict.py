"""`mdlnas predict` and `mdlnas export`: the run's scaling and model applied to new rows,
checked against an independent computation, and exports that run without mdlnas."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from sklearn.datasets import load_iris

from mdlnas.cli import main
from mdlnas.config import SearchConfig, TrainConfig
from mdlnas.data import DataConfig, load_data
from mdlnas.errors import ConfigError, DataError, MdlnasError
from mdlnas.space.presets import SpaceOverrides
from mdlnas.workflow import RunConfig, load_model, load_run_config, run_search, run_train
from mdlnas.workflow.export import ServingNetwork, export_network, export_run
from mdlnas.workflow.predict import load_predictor, predict_file

CLASSES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# torch's note on the retraining's float() of the learned noise scale: not about these tests
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _make_run(out: Path, data: DataConfig, train_rows: int | None) -> Path:
    run = RunConfig(
        data=data,
        overrides=SpaceOverrides(channels=8),
        search=SearchConfig(max_epochs=1, device="cpu"),
        train=TrainConfig(epochs=2, device="cpu", n_train=train_rows),
    )
    run_search(run, out)
    run_train(out)
    return out


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classification run on a CSV with text labels: searched on 40 rows, retrained on
    all training rows (``[train] n_train = 0``), so the scaling differs between the two."""
    root = tmp_path_factory.mktemp("iris")
    x, y = load_iris(return_X_y=True)
    rows = [[*features, CLASSES[label]] for features, label in zip(x, y, strict=True)]
    data = _write_csv(root / "iris.csv", [*FEATURES, "species"], rows)
    config = DataConfig(name=str(data), target="species", n_train=40)
    return _make_run(root / "run", config, train_rows=0)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("line")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = 100.0 + 10.0 * x[:, 0] + rng.normal(scale=0.5, size=120)
    data = _write_csv(root / "line.csv", ["a", "b", "c", "y"],
                      [[*row, target] for row, target in zip(x, y, strict=True)])
    return _make_run(root / "run", DataConfig(name=str(data), target="y"), train_rows=None)


def _data_file(run: Path) -> str:
    return load_run_config(run).data.name


def _independent_probabilities(run: Path, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The run's model on rows scaled by a scaling fitted here, from the data layer: on
    all training rows, as the retraining of ``iris_run`` used."""
    scaling = load_data(_data_file(run), target="species").scaling
    assert scaling is not None
    scaled = torch.as_tensor(scaling.transform_x(x.astype(np.float32)))
    with torch.no_grad():
        logits = load_model(run, "cpu")(scaled).double()
    return torch.softmax(logits, dim=1).numpy()


def test_predict_csv_uses_the_retraining_scaling_and_ignores_the_target(
    iris_run: Path, tmp_path: Path
) -> None:
    x, y = load_iris(return_X_y=True)
    # columns in another order, target included: matched by name, target ignored
    order = [3, 0, 2, 1]
    rows = [[CLASSES[label], *features[order]] for features, label in zip(x, y, strict=True)]
    query = _write_csv(tmp_path / "query.csv", ["species", *(FEATURES[i] for i in order)], rows)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(iris_run), str(query), "--out", str(out), "--quiet"]) == 0
    header, body = _read_csv(out)
    assert header == ["prediction", *(f"p_{name}" for name in CLASSES)]
    assert len(body) == 150
    probabilities = np.array([[float(v) for v in row[1:]] for row in body])
    expected = _independent_probabilities(iris_run, x)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert [row[0] for row in body] == [CLASSES[i] for i in expected.argmax(axis=1)]
    # the search ran on 40 rows; predicting must use the retraining's scaling, not that one
    searched = load_data(_data_file(iris_run), target="species", n_train=40).scaling
    predictor = load_predictor(iris_run, "cpu")
    assert predictor.scaling is not None and searched is not None
    assert not np.allclose(predictor.scaling.x_mean, searched.x_mean)


def test_predict_npz_regression_in_the_targets_units(regression_run: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(5).normal(size=(7, 3))
    query = tmp_path / "rows.npz"
    np.savez(query, X=x)
    result = predict_file(regression_run, query, tmp_path / "pred.csv", "cpu")
    assert result == {"predictions": str(tmp_path / "pred.csv"), "rows": 7, "task": "regression"}
    header, body = _read_csv(tmp_path / "pred.csv")
    assert header == ["prediction"]
    scaling = load_data(_data_file(regression_run), target="y").scaling
    assert scaling is not None
    with torch.no_grad():
        raw = load_model(regression_run, "cpu")(
            torch.as_tensor(scaling.transform_x(x.astype(np.float32)))
        )[:, 0].double().numpy()
    expected = raw * scaling.y_std + scaling.y_mean
    np.testing.assert_allclose([float(row[0]) for row in body], expected, rtol=1e-6)


def test_predict_errors_say_what_to_do(
    iris_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pred.csv"
    short = _write_csv(tmp_path / "short.csv", FEATURES[:3], [[1, 2, 3]])
    with pytest.raises(DataError, match=r"lacks the feature column\(s\) petal_width"):
        predict_file(iris_run, short, out)
    extra = _write_csv(tmp_path / "extra.csv", [*FEATURES, "id"], [[1, 2, 3, 4, 5]])
    with pytest.raises(DataError, match="not trained on: id"):
        predict_file(iris_run, extra, out)
    text = _write_csv(tmp_path / "text.csv", FEATURES, [[1, "big", 3, 4]])
    with pytest.raises(DataError, match="non-numeric value 'big' at data row 1"):
        predict_file(iris_run, text, out)
    np.savez(tmp_path / "wide.npz", X=np.zeros((2, 5)))
    with pytest.raises(DataError, match="5 features per row, but the model was trained on 4"):
        predict_file(iris_run, tmp_path / "wide.npz", out)
    np.savez(tmp_path / "no_x.npz", rows=np.zeros((2, 4)))
    with pytest.raises(DataError, match=r"np.savez\(path, X=...\)"):
        predict_file(iris_run, tmp_path / "no_x.npz", out)
    (tmp_path / "rows.xlsx").write_text("1,2,3,4\n")
    with pytest.raises(DataError, match=r"\.csv, \.tsv, \.txt or \.npz"):
        predict_file(iris_run, tmp_path / "rows.xlsx", out)
    (tmp_path / "rows.txt").write_text("1,2,3\n")  # no header: matched by position
    with pytest.raises(DataError, match="has 3 columns, but the model was trained on 4"):
        predict_file(iris_run, tmp_path / "rows.txt", out)
    untrained = tmp_path / "untrained"
    shutil.copytree(iris_run, untrained)
    (untrained / "model.pt").unlink()
    with pytest.raises(MdlnasError, match="mdlnas train"):
        predict_file(untrained, short, out)
    # on the command line: one line, exit status 2, nothing written
    assert main(["predict", str(iris_run), str(short), "--out", str(out)]) == 2
    assert "mdlnas: error:" in capsys.readouterr().err and not out.exists()


def _serving_outputs(run: Path, x: NDArray[np.float32]) -> NDArray[np.float32]:
    predictor = load_predictor(run, "cpu")
    with torch.no_grad():
        result: NDArray[np.float32] = ServingNetwork(predictor.model, predictor.scaling)(
            torch.as_tensor(x)
        ).numpy()
    return result


def test_torch_export_loads_without_mdlnas(
    iris_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "iris.pt2"
    assert main(["export", str(iris_run), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["export"] == str(out) and printed["format"] == "torch"
    metadata = json.loads(Path(printed["metadata"]).read_text())
    assert metadata["output"]["classes"] == CLASSES
    assert metadata["input"]["shape"] == ["batch", 4]
    x = load_iris(return_X_y=True)[0][::10].astype(np.float32)
    # A fresh interpreter in which importing mdlnas fails: the file must not need it.
    script = (
        "import sys, json, numpy, torch; sys.modules['mdlnas'] = None; "
        f"m = torch.export.load({str(out)!r}).module(); "
        f"x = torch.tensor(numpy.array({x.tolist()!r}, dtype=numpy.float32)); "
        "print(json.dumps([m(x).tolist(), m(x[:1]).tolist()]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=True)
    outputs, single = json.loads(done.stdout.strip().splitlines()[-1])
    expected = _independent_probabilities(iris_run, x.astype(np.float64))
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    np.testing.assert_allclose(single, expected[:1], atol=1e-5)


@pytest.mark.parametrize("run_name", ["iris_run", "regression_run"])
def test_onnx_export_matches_torch(
    run_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    run: Path = request.getfixturevalue(run_name)
    result = export_run(run, "onnx", tmp_path / "model.onnx")
    assert result["format"] == "onnx" and Path(result["metadata"]).is_file()
    session = onnxruntime.InferenceSession(result["export"], providers=["CPUExecutionProvider"])
    width = load_predictor(run, "cpu").input_shape[0]
    x = np.random.default_rng(2).normal(size=(9, width)).astype(np.float32)
    expected = _serving_outputs(run, x)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(session.run(None, {"x": x[:1]})[0], expected[:1],
                               rtol=1e-5, atol=1e-5)
    assert session.get_outputs()[0].name == (
        "probabilities" if run_name == "iris_run" else "prediction"
    )


def test_estimator_onnx_export_of_a_signal_network(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    from mdlnas.estimators import MDLNASClassifier

    rng = np.random.default_rng(0)
    y = np.repeat(["low", "high"], 20)
    x = rng.normal(size=(40, 2, 12)) + (y == "high")[:, None, None]
    model = MDLNASClassifier(epochs=1, train_epochs=2, layers=2, channels=4, device="cpu",
                             random_state=0).fit(x, y)
    metadata = model.export(tmp_path / "signal.onnx", format="onnx")
    assert metadata["output"]["classes"] == ["high", "low"]
    session = onnxruntime.InferenceSession(str(tmp_path / "signal.onnx"),
                                           providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(outputs, model.predict_proba(x), atol=1e-5)


def test_export_errors(iris_run: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="torch, onnx"):
        export_run(iris_run, "tflite")
    real_find_spec = importlib.util.find_spec

    def without_onnx(name: str, *args: Any) -> Any:
        return None if name in ("onnx", "onnxscript") else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_onnx)
    predictor = load_predictor(iris_run, "cpu")
    with pytest.raises(MdlnasError, match="pip install onnx onnxscript"):
        export_network(predictor.model, predictor.scaling, tmp_path / "m.onnx", "onnx")
    with pytest.raises(MdlnasError, match=r"no config\.toml"):
        export_run(tmp_path, "torch")
