"""The data layer: built-in datasets and user files, split and scaled into a DataBundle.

>>> from mdlnas.data import load_data
>>> bundle = load_data("wine", seed=0)
>>> bundle.task, bundle.n_classes, bundle.modality
('classification', 3, 'tabular')
"""

from __future__ import annotations

from mdlnas.config import Task
from mdlnas.data.bundle import DataBundle, Scaling, Split
from mdlnas.data.catalog import DATASETS, FILE_FORMATS, dataset_names, load, load_data
from mdlnas.data.config import DataConfig

__all__ = [
    "DATASETS",
    "FILE_FORMATS",
    "DataBundle",
    "DataConfig",
    "Scaling",
    "Split",
    "Task",
    "dataset_names",
    "load",
    "load_data",
]
