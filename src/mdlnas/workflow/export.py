"""Exporting a trained network so it runs without mdlnas: ``torch.export`` or ONNX.

The exported graph is the whole prediction, not only the network: raw rows in, the
user's quantities out. It scales the input exactly like training did, runs the network
in evaluation mode (the posterior means, no sampling) and returns class probabilities
``(batch, classes)`` for classification, or predictions in the target's units ``(batch,)``
for regression. The batch size is free.

* ``torch``: an ``ExportedProgram`` saved by :func:`torch.export.save` (``.pt2``); load it
  with ``torch.export.load(path).module()`` and call it on a float32 tensor. Loading needs
  PyTorch only, and runs no pickled code.
* ``onnx``: written by :func:`torch.onnx.export` (its ``torch.export``-based exporter,
  which needs the ``onnx`` and ``onnxscript`` packages); run it with onnxruntime. The input
  is named ``x``, the output ``probabilities`` or ``prediction``.

Beside the file, ``FILE.json`` records what the graph expects and returns: the input
shape, the class labels in output order, the task and the genotype, and for a model
trained on a table its feature encoding (``features``: the columns in order, each one's
categories, one-hot, and filled value; see :mod:`mdlnas.data.encoding`), which the graph
does not apply: give it rows as :func:`mdlnas.workflow.predict.read_features` returns
them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mdlnas.data import Scaling
from mdlnas.data.encoding import FeatureEncoding
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.space.network import DerivedNetwork
from mdlnas.workflow.predict import load_predictor

ExportFormat = Literal["torch", "onnx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("torch", "onnx")
SUFFIXES: dict[ExportFormat, str] = {"torch": ".pt2", "onnx": ".onnx"}
METADATA_SCHEMA = "mdlnas.export"
METADATA_VERSION = 1
INPUT_NAME = "x"
# torch.export specialises batch sizes 0 and 1 to constants; an example batch of 2 keeps
# the batch axis symbolic, so the exported graph takes any batch size.
_EXAMPLE_BATCH = 2


class ServingNetwork(nn.Module):
    """Scaling → network (posterior means) → probabilities or values in the user's units."""

    x_mean: Tensor
    x_std: Tensor

    def __init__(self, network: DerivedNetwork, scaling: Scaling | None) -> None:
        super().__init__()
        self.network = network
        self.task = network.task
        self.input_shape = tuple(network.input_shape)
        x_mean = np.zeros(()) if scaling is None else scaling.x_mean
        x_std = np.ones(()) if scaling is None else scaling.x_std
        # Buffers, so the scaling is part of the exported graph (its shape broadcasts
        # over the samples: (features,) for tables, (channels, 1[, 1]) otherwise).
        self.register_buffer("x_mean", torch.as_tensor(x_mean, dtype=torch.float32))
        self.register_buffer("x_std", torch.as_tensor(x_std, dtype=torch.float32))
        self.y_mean = 0.0 if scaling is None else float(scaling.y_mean)
        self.y_std = 1.0 if scaling is None else float(scaling.y_std)
        self.eval()

    @property
    def output_name(self) -> str:
        return "probabilities" if self.task == "classification" else "prediction"

    def forward(self, x: Tensor) -> Tensor:
        z = (x - self.x_mean) / self.x_std  # (B, *input_shape), as training scaled it
        out: Tensor = self.network(z)  # (B, classes) logits, or (B, 1) scaled values
        if self.task == "classification":
            return torch.softmax(out, dim=-1)  # (B, classes)
        return out[:, 0] * self.y_std + self.y_mean  # (B,) in the target's units


def default_path(directory: Path, fmt: ExportFormat) -> Path:
    return directory / f"model{SUFFIXES[fmt]}"


def metadata_path(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def export_network(
    network: DerivedNetwork,
    scaling: Scaling | None,
    out: Path,
    fmt: str,
    class_names: Sequence[str] = (),
    encoding: FeatureEncoding | None = None,
) -> dict[str, Any]:
    """Export ``network`` with its ``scaling`` to ``out`` in format ``fmt`` and write the
    metadata beside it (with the feature ``encoding`` of a table); returns the metadata."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    export_format: ExportFormat = "torch" if fmt == "torch" else "onnx"
    # Export a CPU copy: a file written from GPU tensors would need a GPU to load.
    serving = ServingNetwork(_cpu_copy(network), scaling)
    # Frozen: the loaded program then returns plain tensors, not ones tracking gradients.
    serving.requires_grad_(False)
    example = torch.zeros(_EXAMPLE_BATCH, *serving.input_shape)
    batch = torch.export.Dim("batch")
    metadata = _metadata(serving, network, export_format, out, class_names, encoding)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if export_format == "torch":
            _export_torch(serving, example, batch, out)
        else:
            _export_onnx(serving, example, batch, out)
        metadata_path(out).write_text(json.dumps(metadata, indent=2) + "\n")
    except OSError as exc:
        raise MdlnasError(f"cannot write the export to {out}: {exc}") from None
    return metadata


def _cpu_copy(network: DerivedNetwork) -> DerivedNetwork:
    copy = DerivedNetwork(network.genotype, network.bayes)
    copy.load_state_dict({k: v.detach().cpu() for k, v in network.state_dict().items()})
    return copy.eval()


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters' notes about their own internals (missing torchvision ops,
    deprecations inside torch): nothing a user of mdlnas can or need act on."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def _export_torch(serving: ServingNetwork, example: Tensor, batch: Any, out: Path) -> None:
    with _quiet_exporter():
        try:
            program = torch.export.export(serving, (example,), dynamic_shapes=({0: batch},))
        except Exception as exc:  # tracing fails in many ways; all mean the same here
            raise MdlnasError(f"torch.export of the network failed: {exc}") from None
        torch.export.save(program, out)


def _export_onnx(serving: ServingNetwork, example: Tensor, batch: Any, out: Path) -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise MdlnasError(
            f"ONNX export needs the package(s) {', '.join(missing)}: "
            f"pip install {' '.join(missing)} (or pip install 'mdlnas[export]')"
        )
    try:
        with _quiet_exporter():
            torch.onnx.export(
                serving, (example,), str(out), input_names=[INPUT_NAME],
                output_names=[serving.output_name], dynamic_shapes=({0: batch},),
                dynamo=True, external_data=False, verbose=False,
            )
    except OSError:
        raise
    except Exception as exc:  # the exporter fails in many ways; all mean the same here
        raise MdlnasError(f"ONNX export to {out} failed: {exc}") from None


def _metadata(
    serving: ServingNetwork,
    network: DerivedNetwork,
    fmt: ExportFormat,
    out: Path,
    class_names: Sequence[str],
    encoding: FeatureEncoding | None,
) -> dict[str, Any]:
    loading = {
        "torch": "torch.export.load(path).module()(x)",
        "onnx": f"onnxruntime.InferenceSession(path).run(None, {{'{INPUT_NAME}': x}})",
    }
    return {
        "schema": METADATA_SCHEMA,
        "version": METADATA_VERSION,
        "format": fmt,
        "file": out.name,
        "load": loading[fmt],
        "task": serving.task,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", *serving.input_shape],
            "dtype": "float32",
            "note": "raw features as in the training data; the graph scales them itself"
            if encoding is None else "a table's rows encoded as 'features' says (categories "
            "one-hot, gaps filled; mdlnas.workflow.predict.read_features does it); the graph "
            "scales them itself",
        },
        "output": {
            "name": serving.output_name,
            "shape": ["batch", network.output_dim] if serving.task == "classification"
            else ["batch"],
            "classes": list(class_names),
        },
        "genotype": network.genotype.to_dict(),
        **({} if encoding is None else {"features": encoding.to_dict()}),
    }


def export_run(run_dir: Path, fmt: str, out: Path | None = None) -> dict[str, Any]:
    """Export the trained network of a run directory (``mdlnas export``); the file goes
    to ``out`` or, by default, ``run_dir/model.pt2`` / ``run_dir/model.onnx``."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    predictor = load_predictor(run_dir, device="cpu")
    target = out or default_path(run_dir, "torch" if fmt == "torch" else "onnx")
    metadata = export_network(
        predictor.model, predictor.scaling, target, fmt, predictor.class_names,
        predictor.encoding,
    )
    return {"export": str(target), "metadata": str(metadata_path(target)), "format": fmt,
            "task": metadata["task"]}
