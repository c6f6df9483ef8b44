"""Whole jobs as users run them: search → run directory → retrain → evaluate.

The CLI calls these functions; it only builds configs. What the run directory holds, and
how each file is read and written, is :mod:`mdlnas.workflow.run_dir`'s.

Under torchrun every rank runs these functions (data-parallel, :mod:`mdlnas.distributed`);
rank 0 alone reads and writes files (the run directory and the data) and reports progress,
and the other ranks get what it read and wait for what it writes: the nodes of a job need
not share a file system. Every file access here goes through ``distributed.on_main`` or
``distributed.main_only``, so that a failure on rank 0 stops every rank at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mdlnas import distributed
from mdlnas.config import SearchConfig, SpaceConfig, TrainConfig
from mdlnas.data import DataBundle, load
from mdlnas.data.encoding import ENCODING_FILE
from mdlnas.device import resolve_device
from mdlnas.errors import ConfigError, SearchError
from mdlnas.report.progress import eta
from mdlnas.report.run_files import (
    ALPHA_COLUMNS,
    ALPHAS_FILE,
    FRONT_FILE,
    METRICS_FILE,
    alpha_rows,
    metrics_rows,
    read_alpha_rows,
    write_rows,
)
from mdlnas.search.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from mdlnas.search.darts import BilevelSearch, EpochCallback, EpochRecord, SearchResult
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork, count_weights
from mdlnas.space.presets import check_ops, make_space, space_for
from mdlnas.strategies import family
from mdlnas.train.augment import check_augment
from mdlnas.train.prune import prune_by_snr
from mdlnas.train.retrain import evaluate, retrain
from mdlnas.workflow import family as family_files
from mdlnas.workflow import run_dir as files
from mdlnas.workflow.run_config import RunConfig

Progress = Callable[[str], None]
TrainCallback = Callable[[dict[str, float]], None]


def _silent(_: str) -> None:
    pass


def resolve_space(run: RunConfig, data: DataBundle) -> SpaceConfig:
    if run.space is not None:
        return check_ops(run.space)
    name = run.space_name or space_for(data.modality)
    return make_space(name, run.overrides)


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
    :func:`~mdlnas.workflow.run_dir.load_run_config`) and ends as an uninterrupted run
    would have. Every epoch rewrites ``metrics.csv`` and ``alphas.csv`` and then calls
    each of ``callbacks`` (e.g. a TensorBoard writer) with the epoch's record and the
    search state; under torchrun only rank 0 reports and calls them.
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
        cfg = run.search
        if cfg.max_weights is not None or cfg.max_macs is not None:
            # before any work: a budget below every network of the space is a typo or a
            # misunderstanding, not something a search can find out
            smallest = family.smallest_size(space, data.task, data.input_shape,
                                            data.output_dim, cfg)
            family.check_budget(cfg, smallest, space.name)
            family.check_budget_fill(cfg, run.train)
        check_augment(run.train.augment, data.input_shape)  # not after the whole search
        return space, BilevelSearch(data, space, cfg)

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
        with files.writing(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            files.save_run_config(out_dir, run)
        if checkpoint is None:
            return alpha_rows(0, state.gammas(), space.ops, space.n_nodes)
        # Rows after the checkpoint's epoch are dropped: the search repeats those epochs.
        return read_alpha_rows(alphas_path, up_to_epoch=state.epoch)

    gamma_rows = distributed.main_only(open_run_dir) or []
    if checkpoint is not None:
        progress(f"resuming {out_dir} after epoch {state.epoch} of at most {cfg.epoch_limit}")
    else:
        progress(
            f"searching {data.name} ({len(data.train)} train / {len(data.val)} val) in "
            f"space {space.name}: {_lam_label(cfg)} ξ={cfg.xi} up to {cfg.epoch_limit} epochs on "
            f"{resolve_device(cfg.device)}{_processes()}"
        )

    def report(record: EpochRecord) -> None:
        progress(
            f"epoch {record.epoch:3d}/{cfg.epoch_limit}  train F {record.train_loss:.4f}  "
            f"val NLL {record.val_nll:.4f}  val {_metric_label(data)} {record.val_metric:.4f}  "
            f"DL {record.description_length_bits:,.0f} bits  H(α) {record.alpha_entropy:.3f}  "
            f"Δw {record.weight_change:.2e} Δα {record.alpha_change:.2e}  "
            f"ETA {eta(record.epoch, cfg.epoch_limit, state.seconds)}"
            + ("" if record.phase == "search" else f"  ({record.phase}: α frozen)")
        )

    def record_epoch(record: EpochRecord) -> None:
        gamma_rows.extend(alpha_rows(record.epoch, state.gammas(), space.ops, space.n_nodes))
        with files.writing(out_dir):
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
    front: list[dict[str, Any]] = []
    if state.family is not None:
        # every rank reads the same family off the same supernet, and picks the same network
        # (trial trainings run on every rank, as retrainings do; a resumed run's, in its
        # front.csv, are not repeated)
        tried = distributed.on_main(lambda: family_files.read_trials(out_dir)) if resume else {}
        choice = family.pick(state, space, run.retraining, progress, tried)
        front = choice.rows
        result = replace(result, genotype=choice.genotype)

        def write_family() -> None:
            with files.writing(out_dir):
                family_files.save_genotypes(out_dir, choice.genotypes)
                if resume:  # a finished run resumed: keep what --retrain measured
                    family_files.keep_test_scores(out_dir, front)
                family_files.write_front(out_dir, front)
            progress(f"family: {len(choice.genotypes)} distinct networks over λ "
                     f"{cfg.family_lam_range}; {choice.note}; see {FRONT_FILE}")

        distributed.main_only(write_family)
    distributed.main_only(
        lambda: _write_search_results(data, space, cfg, result, out_dir, progress, front))
    return result


def _lam_label(cfg: SearchConfig) -> str:
    if cfg.family_range is None:
        return f"λ={cfg.lam}"
    return f"λ from {cfg.family_lam_range} (a family, {cfg.lam_knots} knots)"


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
    front: Sequence[dict[str, Any]] = (),
) -> None:
    with files.writing(out_dir):
        files.save_genotype(out_dir, result.genotype)
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
        **_family_summary(cfg, front),
        "genotype_params": genotype_params,
        "gammas": {k: v.round(4).tolist() for k, v in result.gammas.items()},
        "ops": list(space.ops),
        "processes": distributed.world_size(),
    }
    with files.writing(out_dir):
        files.write_json(out_dir / files.SUMMARY_FILE, summary)
    progress(
        f"search done in {result.search_seconds:.1f}s ({result.epochs_run} epochs, "
        f"{'converged' if result.converged else 'stopped at the epoch limit'}); "
        f"genotype: {genotype_params:,} weights"
    )


def _family_summary(cfg: SearchConfig, front: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A family run's summary: λ is the chosen network's (its retraining's λ)."""
    if not front:
        return {}
    chosen = next((row for row in front if row.get("chosen")), front[-1])
    return {
        # the chosen network's λ (the top of the range for the space's smallest network)
        "lam": chosen["lam"],
        "family": {
            "lam_range": cfg.family_lam_range,
            "distinct_networks": len({row["genotype"] for row in front}),
            "max_weights": cfg.max_weights,
            "max_macs": cfg.max_macs,
        },
    }


def _metric_label(data: DataBundle) -> str:
    return "acc" if data.task == "classification" else "RMSE"


# -- retrain and evaluate --------------------------------------------------------------
def run_train(
    run_dir: Path,
    train: TrainConfig | None = None,
    prune_snr: float | None = None,
    progress: Progress = _silent,
    callbacks: Sequence[TrainCallback] = (),
    family_lam: float | None = None,
) -> dict[str, Any]:
    """Retrain the run's genotype from scratch, evaluate once on the test part and write
    ``model.pt`` and ``eval.json``; ``callbacks`` get every epoch's record (under torchrun
    only on rank 0, which alone reads and writes ``run_dir`` and the data). In a family
    run, ``family_lam`` first makes the network of the λ nearest it the run's genotype."""
    if not distributed.is_main():
        progress, callbacks = _silent, ()

    def read_run() -> tuple[RunConfig, Genotype, float | None]:
        run = files.load_run_config(run_dir)
        if train is not None:
            run = replace(run, train=train)
        if prune_snr is not None and not run.train.bayes.variational:
            raise ConfigError("--prune-snr needs variational retraining; drop --deterministic")
        # before anything is saved: a refused setting must not stay in config.toml
        check_augment(run.train.augment, tuple(files.load_genotype(run_dir).input_shape))
        chosen_lam = None
        if run.search.family_range is not None:
            if family_lam is not None:
                _choose_family_lam(run_dir, family_lam, progress)
            summary = files.read_json_if_present(run_dir / files.SUMMARY_FILE) or {}
            chosen_lam = summary.get("lam")
        if train is not None:
            files.save_run_config(run_dir, run)
        return run, files.load_genotype(run_dir), chosen_lam

    run, genotype, chosen_lam = distributed.on_main(read_run)
    data = distributed.on_main(lambda: load(run.retraining_data()))
    cfg = run.retraining(chosen_lam)
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
    # the frame it was retrained in: the search's, or --channels / --layers
    metrics["channels"] = result.model.genotype.space.channels
    metrics["layers"] = result.model.genotype.space.layers
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
        with files.writing(run_dir):
            files.save_model(run_dir, result.model, result.history)
            files.write_json(run_dir / files.EVAL_FILE, metrics)

    distributed.main_only(write_results)  # the others wait until the files are complete
    return metrics


def _choose_family_lam(run_dir: Path, lam: float, progress: Progress) -> None:
    """Make the family's network of the λ nearest ``lam`` the run's genotype and λ."""
    if lam <= 0:
        raise ConfigError(f"--lam {lam:g} names no network of the family (its λ are "
                          "positive); give a λ of its range, see front.csv")
    rows = family_files.read_front(run_dir)
    pick = family_files.nearest_row(rows, lam)
    for i, row in enumerate(rows):
        row["chosen"] = i == pick
    summary = files.read_json(run_dir / files.SUMMARY_FILE)
    summary["lam"] = rows[pick]["lam"]
    with files.writing(run_dir):
        chosen = family_files.load_family_genotype(run_dir, rows[pick]["genotype"])
        if rows[pick].get("fitted_channels") is not None:  # at the width of the budget
            chosen = chosen.scaled(channels=int(rows[pick]["fitted_channels"]))
        files.save_genotype(run_dir, chosen)
        family_files.write_front(run_dir, rows)
        files.write_json(run_dir / files.SUMMARY_FILE, summary)
    progress(f"family: the network of λ = {rows[pick]['lam']:.3g} "
             f"({family.size_text(rows[pick])}) is now the run's genotype")


def run_retrain_front(run_dir: Path, k: int, progress: Progress = _silent) -> list[dict[str, Any]]:
    """Retrain at most ``k`` networks of a family run's Pareto front on validation, each at
    its λ (or the run's retraining λ if one is set), test each once, and add the scores to
    ``front.csv`` after each. Under torchrun every rank retrains (the retraining is
    data-parallel); rank 0 alone reads and writes the run directory."""
    if not distributed.is_main():
        progress = _silent

    def read_run() -> tuple[RunConfig, list[dict[str, Any]], list[Genotype]]:
        run = files.load_run_config(run_dir)
        rows = family_files.read_front(run_dir)
        return run, rows, [family_files.load_family_genotype(run_dir, r["genotype"])
                           for r in rows]

    run, rows, genotypes = distributed.on_main(read_run)
    data = distributed.on_main(lambda: load(run.retraining_data()))
    picks = family.front_to_retrain(rows, k, data.task)
    for n, i in enumerate(picks, 1):
        row = rows[i]
        cfg = run.retraining(row["lam"])
        progress(f"family: retraining {n}/{len(picks)}, λ = {row['lam']:.3g}, "
                 f"{row['weights']:,} weights, {cfg.epochs} epochs{_processes()}")
        result = retrain(genotypes[i], data, cfg)
        metrics = evaluate(result.model, data)
        row["test_metric"] = metrics.get("test_accuracy", metrics.get("test_rmse"))
        row["test_weights"] = metrics["params"]
        row["retrain_seconds"] = round(result.train_seconds, 3)

        def write_front() -> None:
            with files.writing(run_dir):  # after each: a long retraining loses nothing
                family_files.write_front(run_dir, rows)

        distributed.main_only(write_front)
    return rows


def run_evaluate(run_dir: Path, device: str = "auto") -> dict[str, Any]:
    run = files.load_run_config(run_dir)
    model = files.load_model(run_dir, device)
    return evaluate(model, load(run.retraining_data()))

