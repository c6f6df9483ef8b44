"""Applying a trained network to new rows: scaling in, the user's quantities out.

Two callers share :func:`network_outputs` and :class:`Predictions`: the scikit-learn
estimators (which keep their scaling in memory) and ``mdlnas predict`` (which re-derives a
run directory's scaling from the run's training data, exactly as retraining did, and reads
the rows to predict from a table or NPZ file, encoding a table's columns as the run's
``encoding.json`` says).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.func import functional_call

from mdlnas.data import DataBundle, Scaling, load
from mdlnas.data.encoding import ENCODING_FILE, Column, FeatureEncoding
from mdlnas.data.sources.files import existing_file
from mdlnas.data.sources.npz_file import FEATURES_KEY, read_arrays
from mdlnas.data.sources.table_file import SUFFIXES as TABLE_SUFFIXES
from mdlnas.data.sources.table_file import Table, read_table
from mdlnas.data.targets import check_finite_features
from mdlnas.errors import DataError
from mdlnas.space.network import DerivedNetwork

if TYPE_CHECKING:
    import pandas as pd

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
    """A run's trained network with the scaling, labels and feature encoding it was
    trained with."""

    model: DerivedNetwork
    scaling: Scaling | None
    class_names: tuple[str, ...]
    target: str | None  # the target column / array name of the training file, if any
    encoding: FeatureEncoding | None  # how a training table's columns became features

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)


def load_predictor(run_dir: Path, device: str = "auto") -> RunPredictor:
    """The trained network of ``run_dir`` and the scaling it was trained with.

    The scaling is not stored in the run directory; it is fitted again on the training
    rows the retraining used (the run's ``[data]`` and ``[train] n_train``), which the
    deterministic, seeded split reproduces exactly. A table's feature encoding is stored
    (``encoding.json``); fitting it again must give the same, or the data has changed.
    """
    # Imported here: the estimators use this module too and need no run directories.
    from mdlnas.workflow.run_dir import load_model, load_run_config

    run = load_run_config(run_dir)
    model = load_model(run_dir, device)
    data_config = run.retraining_data()
    try:
        bundle = load(data_config)
    except DataError as exc:
        raise DataError(
            f"cannot re-derive the scaling of {run_dir} from its training data "
            f"{data_config.name!r}: {exc}. Predicting needs the data the run was trained on "
            "at the same place"
        ) from None
    _check_same_model(run_dir, model, bundle)
    encoding = bundle.encoding
    stored = run_dir / ENCODING_FILE
    if stored.is_file():
        encoding = FeatureEncoding.load(stored)
        if encoding != bundle.encoding:
            raise DataError(
                f"the training data {data_config.name!r} of {run_dir} no longer gives the "
                f"feature encoding saved in {stored} (columns, categories or filled values "
                "differ); was the data file changed after training? Search again"
            )
    return RunPredictor(
        model=model,
        scaling=bundle.scaling,
        class_names=bundle.class_names,
        target=data_config.target,
        encoding=encoding,
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


# -- files of rows to predict ---------------------------------------------------------
def read_table_features(file: Path, predictor: RunPredictor) -> FloatArray:
    """The rows of a table file encoded as the run's training table was: ``(n, width)``."""
    table = read_table(file)
    source = f"table {file}"
    encoding = predictor.encoding
    if encoding is None:  # trained on arrays: every column but the target is a number
        names = [str(name) for name in table.frame.columns if name != predictor.target]
        encoding = FeatureEncoding(tuple(Column(name) for name in names))
        return encoding.transform(table.frame, source=source)
    frame = _columns_by_position(table, encoding, file) if (
        encoding.headerless or table.headerless) else _columns_by_name(table, encoding, file)
    return encoding.transform(frame, source=source, unknown="error")


def _columns_by_name(table: Table, encoding: FeatureEncoding, file: Path) -> pd.DataFrame:
    given = [str(name) for name in table.frame.columns if name != encoding.target]
    extra = [name for name in given if name not in encoding.names]
    if extra:
        raise DataError(
            f"table {file} has column(s) the model was not trained on: {', '.join(extra)}; "
            f"give the training file's feature columns ({', '.join(encoding.names)}) by "
            "name, in any order"
        )
    return table.frame


def _columns_by_position(table: Table, encoding: FeatureEncoding, file: Path) -> pd.DataFrame:
    """A file or a model without column names: columns are matched by their position,
    the training target's position skipped when the file still holds it."""
    frame = table.frame
    width, wanted = frame.shape[1], len(encoding.names)
    if width == wanted + 1 and encoding.target is not None and encoding.headerless:
        frame = frame.drop(columns=[frame.columns[int(encoding.target)]])
    elif width != wanted:
        label = (f" (or {wanted + 1} with the label in column {encoding.target}, as in the "
                 "training file)" if encoding.headerless else "")
        raise DataError(
            f"table {file} has {width} columns, but the model was trained on {wanted} "
            f"feature columns{label}; give rows like the training file's"
        )
    return frame.set_axis(list(encoding.names), axis=1)


def read_npz_features(file: Path) -> NDArray[Any]:
    x = read_arrays(file, (FEATURES_KEY,))[FEATURES_KEY]
    if x.dtype.kind not in "biuf":
        raise DataError(f"NPZ file {file}: {FEATURES_KEY} must be numeric, got dtype {x.dtype}")
    return x


def read_features(path: Path, predictor: RunPredictor) -> NDArray[Any]:
    """Rows to predict from a table or NPZ file, encoded and shaped as the model's
    training data was: what the run's network, or its export, takes."""
    file = existing_file(str(path))
    suffix = file.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        x: NDArray[Any] = read_table_features(file, predictor)
    elif suffix == ".npz":
        x = read_npz_features(file)
    else:
        raise DataError(
            f"cannot predict from {file}: give a {', '.join(TABLE_SUFFIXES)} or .npz file"
        )
    if len(x) == 0:
        raise DataError(f"{file} holds no rows to predict")
    shape = predictor.input_shape
    if x.ndim == 2 and len(shape) == 2:  # a signal model: columns are time steps
        if x.shape[1] != shape[0] * shape[1]:
            raise DataError(
                f"{file} has {x.shape[1]} feature values per row, but the model was trained "
                f"on signals of {shape[0]} channel(s) × {shape[1]} steps ({shape[0] * shape[1]} "
                "values per row); give series of the training length"
            )
        x = x.reshape(len(x), *shape)
    if tuple(x.shape[1:]) != shape:
        if x.ndim == 2 and len(shape) == 1:
            found, wanted = f"{x.shape[1]} features per row", f"{shape[0]}"
        else:
            found = f"samples of shape {tuple(x.shape[1:])}"
            wanted = f"samples of shape {shape}"
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
