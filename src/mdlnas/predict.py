"""Applying a trained network to new rows: scaling in, the user's quantities out.

Two callers share :func:`network_outputs` and :class:`Predictions`: the scikit-learn
estimators (which keep their scaling in memory) and ``mdlnas predict`` (which re-derives a
run directory's scaling from the run's training data, exactly as retraining did, and reads
the rows to predict from a CSV or NPZ file).
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.func import functional_call

from mdlnas.data import DataBundle, Scaling, load
from mdlnas.data.sources.files import MISSING_MARKERS, existing_file
from mdlnas.data.sources.npz_file import FEATURES_KEY
from mdlnas.data.targets import check_finite_features
from mdlnas.errors import DataError
from mdlnas.space.network import DerivedNetwork

FloatArray = NDArray[np.float64]


# -- the network on scaled rows -------------------------------------------------------
def network_outputs(
    model: DerivedNetwork, x_scaled: NDArray[np.float32], batch_size: int = 1024
) -> FloatArray:
    """Outputs of ``model`` in evaluation mode (posterior means) for already scaled rows:
    logits ``(n, classes)`` or scaled regression values ``(n, 1)``.

    Computed in float64 with the float32 weights widened: float32 matrix products round
    differently for different batch sizes (by ~1e-7), so a row's prediction would depend
    on which rows were predicted with it; in float64 that effect is far below anything
    that matters, and the weights are exactly the trained ones.
    """
    device = next(model.parameters()).device
    tensors = chain(model.named_parameters(), model.named_buffers())
    widened = {name: t.double() if t.is_floating_point() else t for name, t in tensors}
    x = torch.as_tensor(x_scaled, device=device).double()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            chunks = [functional_call(model, widened, (x[i : i + batch_size],))
                      for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    outputs: FloatArray = torch.cat(chunks).cpu().numpy()
    return outputs


def softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)  # no overflow in exp
    weights = np.exp(shifted)
    probabilities: FloatArray = weights / weights.sum(axis=1, keepdims=True)
    return probabilities


@dataclass(frozen=True)
class Predictions:
    """What a network says about some rows, in the user's terms.

    Classification: ``labels`` holds class indices and ``probabilities`` ``(n, classes)``.
    Regression: ``values`` holds predictions in the target's own units.
    """

    labels: NDArray[np.int64] | None = None
    probabilities: FloatArray | None = None
    values: FloatArray | None = None


def predict_rows(model: DerivedNetwork, scaling: Scaling | None, x: NDArray[Any]) -> Predictions:
    """Scale raw rows ``x`` ``(n, *input_shape)`` as training did and run the network."""
    # Training cast the features to float32 before scaling them; do the same so the
    # network sees bit for bit what it would have seen for the same row in training.
    x32 = np.asarray(x, dtype=np.float32)
    x_scaled = scaling.transform_x(x32) if scaling is not None else x32
    outputs = network_outputs(model, x_scaled)
    if model.task == "classification":
        probabilities = softmax(outputs)
        return Predictions(labels=probabilities.argmax(axis=1), probabilities=probabilities)
    values = outputs[:, 0]
    if scaling is not None:
        values = np.asarray(scaling.inverse_y(values), dtype=np.float64)
    return Predictions(values=values)


# -- a run directory ------------------------------------------------------------------
@dataclass(frozen=True)
class RunPredictor:
    """A run's trained network with the scaling and labels it was trained with."""

    model: DerivedNetwork
    scaling: Scaling | None
    class_names: tuple[str, ...]
    target: str | None  # the target column / array name of the training file, if any
    feature_names: tuple[str, ...] | None  # the training CSV's feature columns, if any

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)


def load_predictor(run_dir: Path, device: str = "auto") -> RunPredictor:
    """The trained network of ``run_dir`` and the scaling it was trained with.

    The scaling is not stored in the run directory; it is fitted again on the training
    rows the retraining used (the run's ``[data]`` and ``[train] n_train``), which the
    deterministic, seeded split reproduces exactly.
    """
    # Imported here: the estimators use this module too and need no run directories.
    from mdlnas.workflow import _retraining_data, load_model, load_run_config

    run = load_run_config(run_dir)
    model = load_model(run_dir, device)
    data_config = _retraining_data(run)
    try:
        bundle = load(data_config)
    except DataError as exc:
        raise DataError(
            f"cannot re-derive the scaling of {run_dir} from its training data "
            f"{data_config.name!r}: {exc}. Predicting needs the data the run was trained on "
            "at the same place"
        ) from None
    _check_same_model(run_dir, model, bundle)
    return RunPredictor(
        model=model,
        scaling=bundle.scaling,
        class_names=bundle.class_names,
        target=data_config.target,
        feature_names=_training_feature_names(data_config.name, data_config.target),
    )


def _check_same_model(run_dir: Path, model: DerivedNetwork, bundle: DataBundle) -> None:
    if tuple(bundle.input_shape) != tuple(model.input_shape) or bundle.output_dim != (
        model.output_dim
    ):
        raise DataError(
            f"the training data of {run_dir} no longer matches its model (samples "
            f"{bundle.input_shape} vs {tuple(model.input_shape)}); was the data file changed "
            "after training? Retrain with `mdlnas train`"
        )


def _training_feature_names(name: str, target: str | None) -> tuple[str, ...] | None:
    """The feature columns of a training CSV, so prediction files can be matched by name."""
    if Path(name).suffix.lower() != ".csv":
        return None
    header = _read_csv(existing_file(name))[0][1]
    return tuple(column for column in header if column != target)


# -- files of rows to predict ---------------------------------------------------------
Row = tuple[int, list[str]]  # (line number, cells)


def _read_csv(file: Path) -> list[Row]:
    try:
        # utf-8-sig: drop the byte-order mark Excel writes (it would glue onto a name).
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, [c.strip() for c in row])
                    for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV file {file}: {exc}") from None
    if not rows:
        raise DataError(f"CSV file {file} is empty; it needs a header row and data rows")
    return rows


def _feature_columns(file: Path, header: list[str], predictor: RunPredictor) -> list[int]:
    """Indices of the feature columns of a prediction CSV, in the order training used."""
    if len(set(header)) != len(header) or "" in header:
        raise DataError(f"CSV file {file}: column names must be non-empty and unique")
    given = [name for name in header if name != predictor.target]  # the target is ignored
    if predictor.feature_names is None:
        expected = predictor.input_shape[0] if len(predictor.input_shape) == 1 else None
        if expected is None:
            raise DataError(
                f"CSV file {file}: the model takes samples of shape {predictor.input_shape}, "
                "which a table cannot hold; give an .npz file with X of shape "
                f"(n, {', '.join(map(str, predictor.input_shape))})"
            )
        if len(given) != expected:
            raise DataError(
                f"CSV file {file} has {len(given)} feature column(s), but the model was "
                f"trained on {expected}; give one column per feature in the training order "
                "(and no ID or other extra columns)"
            )
        return [header.index(name) for name in given]
    missing = [name for name in predictor.feature_names if name not in header]
    extra = [name for name in given if name not in predictor.feature_names]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"lacks the training column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"has column(s) the model was not trained on: {', '.join(extra)}")
        raise DataError(
            f"CSV file {file} {' and '.join(problems)}; give the training file's feature "
            f"columns ({', '.join(predictor.feature_names)}) by name, in any order"
        )
    return [header.index(name) for name in predictor.feature_names]


def _parse_cell(file: Path, column: str, line: int, text: str) -> float:
    if text.lower() in MISSING_MARKERS:
        raise DataError(
            f"CSV file {file}: column {column!r} is missing a value at line {line}; "
            "fill or drop such rows"
        )
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"CSV file {file}: column {column!r} holds the non-numeric value {text!r} at line "
            f"{line}; feature columns must be numeric"
        ) from None


def read_csv_features(file: Path, predictor: RunPredictor) -> FloatArray:
    rows = _read_csv(file)
    (_, header), body = rows[0], rows[1:]
    if not body:
        raise DataError(f"CSV file {file} has a header but no rows to predict")
    columns = _feature_columns(file, header, predictor)
    features = []
    for line, cells in body:
        if len(cells) != len(header):
            raise DataError(
                f"CSV file {file}: line {line} has {len(cells)} fields, the header {len(header)}"
            )
        features.append([_parse_cell(file, header[j], line, cells[j]) for j in columns])
    return np.array(features, dtype=np.float64)


def read_npz_features(file: Path) -> NDArray[Any]:
    if not zipfile.is_zipfile(file):  # np.load would otherwise try it as a pickle
        raise DataError(f"cannot read NPZ file {file}: not a zip archive written by np.savez")
    try:
        with np.load(file, allow_pickle=False) as archive:  # a pickle could run code
            if FEATURES_KEY not in archive.files:
                raise DataError(
                    f"NPZ file {file} has no array {FEATURES_KEY!r} of rows to predict; it "
                    f"holds: {', '.join(archive.files) or 'nothing'}. Save it with "
                    f"np.savez(path, {FEATURES_KEY}=...)"
                )
            x: NDArray[Any] = archive[FEATURES_KEY]
    except DataError:
        raise
    except Exception as exc:  # a damaged or foreign archive fails in many ways, one meaning
        raise DataError(f"cannot read NPZ file {file}: {exc}") from None
    if x.dtype.kind not in "biuf":
        raise DataError(f"NPZ file {file}: {FEATURES_KEY} must be numeric, got dtype {x.dtype}")
    return x


def read_features(path: Path, predictor: RunPredictor) -> NDArray[Any]:
    """Rows to predict from a CSV or NPZ file, checked against the model's input shape."""
    file = existing_file(str(path))
    suffix = file.suffix.lower()
    if suffix == ".csv":
        x: NDArray[Any] = read_csv_features(file, predictor)
    elif suffix == ".npz":
        x = read_npz_features(file)
    else:
        raise DataError(f"cannot predict from {file}: give a .csv or .npz file")
    if len(x) == 0:
        raise DataError(f"{file} holds no rows to predict")
    if tuple(x.shape[1:]) != predictor.input_shape:
        if x.ndim == 2 and len(predictor.input_shape) == 1:
            found, wanted = f"{x.shape[1]} features per row", f"{predictor.input_shape[0]}"
        else:
            found = f"samples of shape {tuple(x.shape[1:])}"
            wanted = f"samples of shape {predictor.input_shape}"
        raise DataError(
            f"{file} has {found}, but the model was trained on {wanted}; give rows shaped "
            "like the training data's"
        )
    check_finite_features(x, source=str(file))
    return x


# -- mdlnas predict -------------------------------------------------------------------
def predict_file(
    run_dir: Path, data_file: Path, out: Path, device: str = "auto"
) -> dict[str, Any]:
    """Predict every row of ``data_file`` with the run's model and write ``out`` (CSV):
    a ``prediction`` column (the class label, or the value in the target's units) and,
    for classification, one ``p_<class>`` column of probabilities per class."""
    predictor = load_predictor(run_dir, device)
    x = read_features(data_file, predictor)
    predictions = predict_rows(predictor.model, predictor.scaling, x)
    if predictions.labels is not None and predictions.probabilities is not None:
        names = predictor.class_names
        header = ["prediction", *(f"p_{name}" for name in names)]
        rows: list[list[str]] = [
            [names[label], *(repr(float(p)) for p in probs)]
            for label, probs in zip(predictions.labels, predictions.probabilities, strict=True)
        ]
    else:
        assert predictions.values is not None  # regression by construction
        header = ["prediction"]
        rows = [[repr(float(value))] for value in predictions.values]
    _write_csv(out, header, rows)
    return {"predictions": str(out), "rows": len(rows), "task": predictor.model.task}


def _write_csv(out: Path, header: list[str], rows: list[list[str]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        tmp.replace(out)  # atomic: a reader never sees half a file
    except OSError as exc:
        raise DataError(f"cannot write predictions to {out}: {exc}") from None
