"""Whole jobs as users run them: search → run directory → retrain → evaluate.

The CLI and the scikit-learn estimators call these functions; they only build configs.
A run directory holds ``config.toml`` (everything needed to repeat or continue the run),
``genotype.json``, ``encoding.json`` (for a table: how its columns became features, see
:mod:`mdlnas.data.encoding`), ``summary.json``, ``metrics.csv`` and ``alphas.csv`` (per epoch, see
:mod:`mdlnas.report.run_files`), ``checkpoints/`` and, after retraining, ``model.pt``,
``eval.json`` and ``train_history.csv``; ``plots/`` is drawn by :mod:`mdlnas.report`.

Under torchrun every rank runs these functions (data-parallel, :mod:`mdlnas.distributed`);
rank 0 alone reads and writes files (the run directory and the data) and reports progress,
and the other ranks get what it read and wait for what it writes: the nodes of a job need
not share a file system. Every file access here goes through ``distributed.on_main`` or
``distributed.main_only``, so that a failure on rank 0 stops every rank at once.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from mdlnas import distributed, tomlio
from mdlnas.config import BayesConfig, SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataBundle, DataConfig, load
from mdlnas.data.encoding import ENCODING_FILE
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, MdlnasError, SearchError
from mdlnas.report.progress import eta
from mdlnas.report.run_files import (
    ALPHA_COLUMNS,
    ALPHAS_FILE,
    METRICS_FILE,
    alpha_rows,
    metrics_rows,
    read_alpha_rows,
    write_rows,
)
from mdlnas.search.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    load_weights_only,
    save_checkpoint,
)
from mdlnas.search.darts import BilevelSearch, EpochCallback, EpochRecord, SearchResult
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.space.presets import SPACES, SpaceOverrides, check_ops, make_space, space_for
from mdlnas.train.prune import prune_by_snr
from mdlnas.train.retrain import evaluate, retrain

Progress = Callable[[str], None]
TrainCallback = Callable[[dict[str, float]], None]


def _silent(_: str) -> None:
    pass


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; saved as the run directory's ``config.toml``."""

    data: DataConfig
    space: SpaceConfig | None = None  # None: chosen from the data (tabular → mlp, ...)
    space_name: str | None = None
    overrides: SpaceOverrides = field(default_factory=SpaceOverrides)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# -- config files ----------------------------------------------------------------------
def _bayes_table(b: BayesConfig) -> dict[str, Any]:
    table = asdict(b)
    # TOML has no null: the empirical-Bayes prior is spelled out.
    table["prior_std"] = "empirical" if b.prior_std is None else b.prior_std
    return table


def _bayes_from(table: Mapping[str, Any]) -> BayesConfig:
    table = dict(table)
    if table.get("prior_std") == "empirical":
        table["prior_std"] = None
    return BayesConfig(**_known(BayesConfig, table, "bayes"))


def _known(cls: type, table: Mapping[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in [{where}]; "
            f"valid: {', '.join(sorted(names))}"
        )
    return dict(table)


# A [space] table either describes a space completely (it has ``dim``; run directories
# save it so) or picks a preset by ``name`` and changes some of its settings (these keys,
# which are SpaceOverrides' fields and SpaceConfig's names for them).
PRESET_KEYS = ("name", *(f.name for f in fields(SpaceOverrides)))


def config_tables(run: RunConfig) -> dict[str, Any]:
    """The run as TOML tables: [data], [space], [search] (+ [search.bayes]), [train]
    (+ [train.bayes]). Unset options are ``None``; tomlio writes them commented out."""
    search = asdict(run.search)
    search["bayes"] = _bayes_table(run.search.bayes)
    train = asdict(run.train)
    train["bayes"] = _bayes_table(run.train.bayes)
    if run.space is not None:
        space = asdict(run.space)
    else:
        space = {"name": run.space_name, **asdict(run.overrides)}
    return {"data": asdict(run.data), "space": space, "search": search, "train": train}


def config_from_tables(tables: Mapping[str, Any]) -> RunConfig:
    for name in ("data", "space", "search", "train"):
        if name in tables and not isinstance(tables[name], Mapping):
            raise ConfigError(f"[{name}] must be a table of options, got {tables[name]!r}")
    try:
        data = DataConfig(**_known(DataConfig, tables["data"], "data"))
    except KeyError:
        raise ConfigError("the config has no [data] table naming the dataset") from None
    space, space_name, overrides = _space_from(tables.get("space", {}))
    search_raw = dict(tables.get("search", {}))
    search_bayes = _bayes_from(search_raw.pop("bayes", {}))
    search = SearchConfig(**_known(SearchConfig, search_raw, "search"), bayes=search_bayes)
    train_raw = dict(tables.get("train", {}))
    try:
        train_bayes = _bayes_from(train_raw.pop("bayes", {}))
        train = TrainConfig(**_known(TrainConfig, train_raw, "train"), bayes=train_bayes)
    except ConfigError as exc:  # "lr must be positive" alone would point at the search's
        raise ConfigError(
            f"{exc} (a retraining setting: see the --train-* options, or [train] in a "
            "config file)"
        ) from None
    return RunConfig(data=data, space=space, space_name=space_name, overrides=overrides,
                     search=search, train=train)


def _space_from(
    table: Mapping[str, Any],
) -> tuple[SpaceConfig | None, str | None, SpaceOverrides]:
    """(complete space, preset name, overrides) of a [space] table; see PRESET_KEYS."""
    raw = dict(table)
    for key in ("ops", "reduction_layers"):
        if isinstance(raw.get(key), list):
            raw[key] = tuple(raw[key])
    if "dim" in raw:
        return SpaceConfig(**_known(SpaceConfig, raw, "space")), None, SpaceOverrides()
    unknown = sorted(set(raw) - set(PRESET_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in [space]; a preset takes "
            f"{', '.join(PRESET_KEYS)} (a complete space also needs dim)"
        )
    name = raw.pop("name", None)
    if name is not None:
        if not isinstance(name, str):
            raise ConfigError(f"[space] name must be a search space's name, got {name!r}")
        SPACES.get(name)  # an unknown name fails now, listing the valid ones
    return None, name, SpaceOverrides(**raw)


def load_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / "config.toml"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} is not a run directory (no config.toml); make one with `mdlnas search`"
        )
    try:
        return config_from_tables(tomlio.load(path))
    except TypeError as exc:
        raise ConfigError(f"{path} has a malformed option: {exc}") from None


# -- helpers ---------------------------------------------------------------------------
def resolve_space(run: RunConfig, data: DataBundle) -> SpaceConfig:
    if run.space is not None:
        return check_ops(run.space)
    name = run.space_name or space_for(data.modality)
    return make_space(name, run.overrides)


@contextlib.contextmanager
def _writing(run_dir: Path) -> Iterator[None]:
    """One line instead of a traceback when the run directory cannot be written (no
    permission, disk full); under torchrun rank 0's error then ends every rank."""
    try:
        yield
    except OSError as exc:
        raise MdlnasError(f"cannot write the run directory {run_dir}: {exc}") from None


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MdlnasError(f"{path} does not exist")
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def _write_history(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# -- search ----------------------------------------------------------------------------
def run_search(
    run: RunConfig,
    out_dir: Path,
    progress: Progress = _silent,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> SearchResult:
    """Load the data, search, and write the run directory (without retraining).

    A checkpoint is written after every epoch; with ``resume`` the search continues from
    the run directory's checkpoint (``run`` is then the configuration saved there, see
    :func:`load_run_config`) and ends as an uninterrupted run would have. Every epoch
    rewrites ``metrics.csv`` and ``alphas.csv`` and then calls each of ``callbacks``
    (e.g. a TensorBoard writer) with the epoch's record and the search state; under
    torchrun only rank 0 reports and calls them.
    """
    ckpt = checkpoint_path(out_dir)
    if not distributed.is_main():
        progress, callbacks = _silent, ()

    def read_checkpoint() -> dict[str, Any] | None:
        if resume:
            return load_checkpoint(ckpt)
        if ckpt.exists():
            raise ConfigError(
                f"{out_dir} already holds a search; continue it with `mdlnas search --resume "
                f"{out_dir}`, or give another --out"
            )
        return None

    def prepare(data: DataBundle) -> tuple[SpaceConfig, BilevelSearch]:
        space = resolve_space(run, data)
        return space, BilevelSearch(data, space, run.search)

    # rank 0's disk, sent to the others; the data before making the folder, so that bad
    # data leaves nothing behind
    checkpoint = distributed.on_main(read_checkpoint)
    data = distributed.on_main(lambda: load(run.data))
    space, state = distributed.everywhere(lambda: prepare(data))
    run = replace(run, space=space)
    cfg = run.search
    alphas_path = out_dir / ALPHAS_FILE
    if checkpoint is not None:
        state.load_state_dict(checkpoint)

    def open_run_dir() -> list[dict[str, Any]]:
        """The γ rows so far (rank 0 keeps them and rewrites alphas.csv every epoch)."""
        with _writing(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
            if not resume:
                tomlio.write(out_dir / "config.toml", config_tables(run))
        if checkpoint is None:
            return alpha_rows(0, state.gammas(), space.ops, space.n_nodes)
        # Rows after the checkpoint's epoch are dropped: the search repeats those epochs.
        return read_alpha_rows(alphas_path, up_to_epoch=state.epoch)

    gamma_rows = distributed.main_only(open_run_dir) or []
    if checkpoint is not None:
        progress(f"resuming {out_dir} after epoch {state.epoch} of at most {cfg.max_epochs}")
    else:
        progress(
            f"searching {data.name} ({len(data.train)} train / {len(data.val)} val) in "
            f"space {space.name}: λ={cfg.lam} ξ={cfg.xi} up to {cfg.max_epochs} epochs on "
            f"{resolve_device(cfg.device)}{_processes()}"
        )

    def report(record: EpochRecord) -> None:
        progress(
            f"epoch {record.epoch:3d}/{cfg.max_epochs}  train F {record.train_loss:.4f}  "
            f"val NLL {record.val_nll:.4f}  val {_metric_label(data)} {record.val_metric:.4f}  "
            f"DL {record.description_length_bits:,.0f} bits  H(α) {record.alpha_entropy:.3f}  "
            f"Δw {record.weight_change:.2e} Δα {record.alpha_change:.2e}  "
            f"ETA {eta(record.epoch, cfg.max_epochs, state.seconds)}"
            + ("" if record.phase == "search" else f"  ({record.phase}: α frozen)")
        )

    def record_epoch(record: EpochRecord) -> None:
        gamma_rows.extend(alpha_rows(record.epoch, state.gammas(), space.ops, space.n_nodes))
        with _writing(out_dir):
            # alphas.csv before the checkpoint: killed in between, the resumed search drops
            # the extra epoch's rows and writes them again, so no epoch goes missing.
            write_rows(alphas_path, gamma_rows, ALPHA_COLUMNS)
            save_checkpoint(ckpt, state.state_dict())
            write_rows(out_dir / METRICS_FILE,
                       metrics_rows((r.to_dict() for r in state.history), cfg))
        report(record)
        for callback in callbacks:
            callback(record, state)

    while not state.finished:
        try:
            record = state.run_epoch()
        except SearchError as exc:
            kept = (f"the checkpoint of epoch {state.epoch} is kept in {ckpt}"
                    if state.epoch else "no epoch had finished, so there is no checkpoint")
            raise SearchError(f"{exc}; {kept}") from None
        # rank 0 writes and reports; the others wait for it, and stop if it fails
        distributed.main_only(functools.partial(record_epoch, record))
    result = state.result()
    distributed.main_only(
        lambda: _write_search_results(data, space, cfg, result, out_dir, progress))
    return result


def _processes() -> str:
    n = distributed.world_size()
    return f" × {n} processes (data-parallel)" if n > 1 else ""


def _write_search_results(
    data: DataBundle,
    space: SpaceConfig,
    cfg: SearchConfig,
    result: SearchResult,
    out_dir: Path,
    progress: Progress,
) -> None:
    with _writing(out_dir):
        result.genotype.save(out_dir / "genotype.json")
        if data.encoding is not None:  # how predict and export turn a table into features
            data.encoding.save(out_dir / ENCODING_FILE)
        write_rows(out_dir / METRICS_FILE,
                   metrics_rows((r.to_dict() for r in result.history), cfg))
    genotype_params = count_weights(DerivedNetwork(result.genotype, cfg.bayes))
    summary = {
        "dataset": data.name,
        "space": space.name,
        "strategy": "mdl" if cfg.bayes.variational else "darts",
        "lam": cfg.lam,
        "xi": cfg.xi,
        **result.summary(),
        "genotype_params": genotype_params,
        "gammas": {k: v.round(4).tolist() for k, v in result.gammas.items()},
        "ops": list(space.ops),
        "processes": distributed.world_size(),
    }
    with _writing(out_dir):
        _write_json(out_dir / "summary.json", summary)
    progress(
        f"search done in {result.search_seconds:.1f}s ({result.epochs_run} epochs, "
        f"{'converged' if result.converged else 'stopped at the epoch limit'}); "
        f"genotype: {genotype_params:,} weights"
    )


def _metric_label(data: DataBundle) -> str:
    return "acc" if data.task == "classification" else "RMSE"


# -- retrain and evaluate --------------------------------------------------------------
def _model_path(run_dir: Path) -> Path:
    return run_dir / "model.pt"


def run_train(
    run_dir: Path,
    train: TrainConfig | None = None,
    prune_snr: float | None = None,
    progress: Progress = _silent,
    callbacks: Sequence[TrainCallback] = (),
) -> dict[str, Any]:
    """Retrain the run's genotype from scratch, evaluate once on the test part and write
    ``model.pt`` and ``eval.json``; ``callbacks`` get every epoch's record (under torchrun
    only on rank 0, which alone reads and writes ``run_dir`` and the data)."""
    if not distributed.is_main():
        progress, callbacks = _silent, ()

    def read_run() -> tuple[RunConfig, Genotype]:
        run = load_run_config(run_dir)
        if train is not None:
            run = replace(run, train=train)
        if prune_snr is not None and not run.train.bayes.variational:
            raise ConfigError("--prune-snr needs variational retraining; drop --deterministic")
        if train is not None:
            with _writing(run_dir):
                tomlio.write(run_dir / "config.toml", config_tables(run))
        return run, Genotype.load(run_dir / "genotype.json")

    run, genotype = distributed.on_main(read_run)
    data = distributed.on_main(lambda: load(_retraining_data(run)))
    cfg = run.train if run.train.lam is not None else replace(run.train, lam=run.search.lam)
    progress(f"retraining the genotype for {cfg.epochs} epochs "
             f"({'variational' if cfg.bayes.variational else 'deterministic'} weights)"
             f"{_processes()}")
    start = time.perf_counter()

    # refitting trains on the validation rows too: their scores only show progress
    val = "val (trained on)" if cfg.refit else "val"

    def report(record: dict[str, float]) -> None:
        done = int(record["epoch"])
        progress(
            f"epoch {done:3d}/{cfg.epochs}  train loss {record['train_loss']:.4f}  "
            f"{val} NLL {record['val_nll']:.4f}  {val} {_metric_label(data)} "
            f"{record['val_metric']:.4f}  ETA {eta(done, cfg.epochs, time.perf_counter() - start)}"
        )

    def after_epoch(record: dict[str, float]) -> None:
        """Called on every rank: rank 0 reports and logs, the others wait for it."""

        def on_rank_0() -> None:
            for callback in (report, *callbacks):
                callback(record)

        distributed.main_only(on_rank_0)

    result = retrain(genotype, data, cfg, callbacks=[after_epoch])
    metrics = evaluate(result.model, data)
    metrics["train_seconds"] = round(result.train_seconds, 3)
    # rows the weights were trained on (refitting adds the validation rows)
    metrics["train_rows"] = len(data.train) + (len(data.val) if cfg.refit else 0)
    metrics["best_epoch"] = result.best_epoch
    if prune_snr is not None:
        pruned = prune_by_snr(result.model, prune_snr)
        after = evaluate(result.model, data)
        metrics["pruning"] = {
            "snr_threshold": prune_snr,
            "pruned_weights": pruned,
            "before": {k: v for k, v in metrics.items() if k != "pruning"},
            "after": after,
        }
        metrics.update(after)

    def write_results() -> None:
        with _writing(run_dir):
            _write_history(run_dir / "train_history.csv", result.history)
            torch.save({"state_dict": result.model.state_dict()}, _model_path(run_dir))
            _write_json(run_dir / "eval.json", metrics)

    distributed.main_only(write_results)  # the others wait until the files are complete
    return metrics


def _retraining_data(run: RunConfig) -> DataConfig:
    """The search's data, with as many training rows as the retraining asks for."""
    n_train = run.train.n_train
    if n_train is None:
        return run.data
    return replace(run.data, n_train=None if n_train == 0 else n_train)


def load_model(run_dir: Path, device: str = "auto") -> DerivedNetwork:
    """The retrained network of a run directory; loading never unpickles code."""
    run = load_run_config(run_dir)
    genotype = Genotype.load(run_dir / "genotype.json")
    path = _model_path(run_dir)
    if not path.is_file():
        raise MdlnasError(f"{run_dir} has no trained model; run `mdlnas train {run_dir}` first")
    target = resolve_device(device)
    remedy = f"retrain it with `mdlnas train {run_dir}`"
    payload = load_weights_only(path, target, what=str(path), remedy=remedy)
    model = DerivedNetwork(genotype, run.train.bayes).to(target)
    state = payload.get("state_dict") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise MdlnasError(f"{path} is not a model written by mdlnas (no state_dict); {remedy}")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise MdlnasError(
            f"{path} does not fit the run's genotype ({first}); {remedy}"
        ) from None
    model.eval()
    return model


def run_evaluate(run_dir: Path, device: str = "auto") -> dict[str, Any]:
    run = load_run_config(run_dir)
    model = load_model(run_dir, device)
    return evaluate(model, load(_retraining_data(run)))

