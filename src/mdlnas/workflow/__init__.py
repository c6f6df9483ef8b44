"""Whole runs as users make them, above the library's layers (data → space → search →
train) and below the command line:

- :mod:`~mdlnas.workflow.run_config`: what a run is (:class:`RunConfig`) and its TOML form;
- :mod:`~mdlnas.workflow.options`: every setting's option, generated from the declarations
  in the config dataclasses (for the CLI, config files and the estimators);
- :mod:`~mdlnas.workflow.config_file`: commented config files (``mdlnas config``);
- :mod:`~mdlnas.workflow.run_dir`: the run directory's files, their names, reading, writing;
- :mod:`~mdlnas.workflow.jobs`: search → run directory → retrain → evaluate;
- :mod:`~mdlnas.workflow.show`, :mod:`~mdlnas.workflow.compare`,
  :mod:`~mdlnas.workflow.predict`, :mod:`~mdlnas.workflow.export`,
  :mod:`~mdlnas.workflow.bench`: the other jobs of the command line.
"""

from __future__ import annotations

from mdlnas.workflow.jobs import run_evaluate, run_search, run_train
from mdlnas.workflow.run_config import RunConfig, config_from_tables, config_tables
from mdlnas.workflow.run_dir import load_model, load_run_config, read_json

__all__ = [
    "RunConfig",
    "config_from_tables",
    "config_tables",
    "load_model",
    "load_run_config",
    "read_json",
    "run_evaluate",
    "run_search",
    "run_train",
]
