"""Start or resume a run: load the data, open storage, start Ray, evolve, and keep the status true."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from evonas.datasets import SearchSplits, load_dataset, search_splits
from evonas.datasets.splits import SPLIT_SEED
from evonas.errors import ConfigError, NASError
from evonas.genomes import SearchSpace
from evonas.nas.config import DatasetConfig, RunConfig, format_validation_error
from evonas.nas.evolution import Progress, Search
from evonas.nas.pruning import checkpoint_epoch
from evonas.storage import GenerationRecord, RunInfo, RunStorage, SQLStorage
from evonas.storage.weights import WeightStore, default_weights_dir
from evonas.workers import FitnessData, RayEvaluator

log = logging.getLogger(__name__)


def prepare_data(cfg: DatasetConfig) -> tuple[SearchSplits, FitnessData]:
    """Load and split the dataset; the fitness data holds the training and validation splits."""
    data = load_dataset(cfg.name, cfg.data_dir)
    splits = search_splits(data, val_size=cfg.val_size, test_fraction=cfg.test_fraction, subset=cfg.subset)
    n_clusters = cfg.clusters or data.n_classes
    if n_clusters is None:
        raise ConfigError(
            f"Dataset {cfg.name!r} has no labels, so the number of clusters is unknown: "
            "pass --clusters K (the number of groups k-means should find)."
        )
    if splits.val.y is None:
        log.warning(
            "dataset %s has no labels: clustering accuracy cannot be computed; the search maximises "
            "the silhouette of the k-means partition (k=%d) of the validation codes instead",
            cfg.name, n_clusters,
        )  # fmt: skip
    return splits, FitnessData(splits.train.x, splits.val.x, splits.val.y, n_clusters)


def evaluation_key(config: RunConfig) -> str:
    """A fingerprint of what a genome's metrics depend on besides the genome and its seed:
    the data (and its splits) and the training budget. Runs with equal keys may share
    evaluations (``--reuse``)."""
    ds = config.dataset
    data_dir = str(Path(ds.data_dir).resolve()) if ds.data_dir else None
    what = {
        "dataset": {**ds.model_dump(mode="json"), "data_dir": data_dir, "split_seed": SPLIT_SEED},
        "budget": config.budget.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{config.dataset.name}-{stamp}-{secrets.token_hex(2)}"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_alive(owner: str | None) -> bool:
    """Whether the driver process ``host:pid`` still runs (only answerable on the same host;
    a driver on another host is assumed alive)."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"nas" in cmdline or b"evonas" in cmdline


def run_search(config: RunConfig, progress: Progress | None = None, *, reuse: bool = False) -> RunInfo:
    """Run a whole search as configured and return the stored run.

    The stored configuration has the search space resolved (a preset for the input shape
    when none was given), so the database alone says what the run did.
    """
    _, fitness_data = prepare_data(config.dataset)
    space = config.search_space or SearchSpace.preset_for(fitness_data.input_shape)
    config = config.model_copy(
        update={
            "search_space": space,
            "name": config.name or default_run_name(config),
            "weights_dir": (config.weights_dir or default_weights_dir(config.db)).resolve(),
        }
    )
    with SQLStorage(config.db) as storage:
        run = storage.create_run(
            config.name or "",
            config.model_dump(mode="json"),
            config.seed,
            evaluation_key(config),
            this_process(),
        )
        return _evolve(config, space, fitness_data, storage, run, [], progress, reuse)


def resume_search(
    key: str,
    db: str,
    *,
    generations: int | None = None,
    progress: Progress | None = None,
    reuse: bool = False,
    force: bool = False,
    address: str | None = None,
    cpus: int | None = None,
) -> RunInfo:
    """Continue a run from its last stored generation, whatever stopped it.

    The run's stored configuration is used as it is (only ``generations`` may grow); one that
    no longer validates is refused rather than silently replaced.
    """
    with SQLStorage(db, create=False) as storage:
        run = storage.get_run(key)
        stored = dict(run.config)
        if "reevaluate" not in stored:  # made before pruning and re-evaluation: keep its behaviour
            stored.update(reevaluate=0, pruning={"enabled": False})
        try:
            config = RunConfig.model_validate(stored)
        except ValidationError as exc:
            raise ConfigError(
                f"The stored configuration of run {run.name!r} (evonas {run.evonas_version}) no longer "
                f"validates: {format_validation_error(exc)} It cannot be resumed with a different one; "
                "start a new run."
            ) from None
        if run.status == "running" and owner_is_alive(run.owner) and not force:
            raise NASError(
                f"Run {run.name!r} is still running (driver {run.owner}); stop it first, or pass --force "
                "if that process is gone."
            )
        history = storage.load_generations(run.id)
        target = config.generations if generations is None else generations
        done = len(history) - 1
        if target < done:
            raise ConfigError(f"The '--generations' option must be >= {done}, the last stored generation. "
                              f"Got {target} instead.")  # fmt: skip
        if target == done and run.status == "finished":
            raise NASError(
                f"Run {run.name!r} is finished with generations 0..{done}; pass --generations N with "
                f"N > {done} to extend it."
            )
        overrides: dict[str, object] = {"generations": target}
        if address is not None:
            overrides["address"] = address
        if cpus is not None:
            overrides["cpus"] = cpus
        config = config.model_copy(update=overrides)
        if evaluation_key(config) != run.eval_key:
            raise ConfigError(f"Run {run.name!r} was evaluated under different data or budget settings.")
        _, fitness_data = prepare_data(config.dataset)
        space = config.search_space or SearchSpace.preset_for(fitness_data.input_shape)
        log.info("resuming run %s after generation %d of %d", run.name, done, target)
        storage.update_run(run.id, "running", config=config.model_dump(mode="json"), owner=this_process())
        return _evolve(config, space, fitness_data, storage, run, history, progress, reuse)


def _evolve(
    config: RunConfig,
    space: SearchSpace,
    fitness_data: FitnessData,
    storage: RunStorage,
    run: RunInfo,
    history: list[GenerationRecord],
    progress: Progress | None,
    reuse: bool,
) -> RunInfo:
    """Drive the search and leave the run's status true whatever happens."""
    log.info(
        "run %s: %d training / %d validation images of %s, input %s",
        run.name, len(fitness_data.x_train), len(fitness_data.x_val), config.dataset.name,
        fitness_data.input_shape,
    )  # fmt: skip
    try:
        with RayEvaluator(
            fitness_data, config.budget, address=config.address,
            num_cpus=config.cpus, cpus_per_trial=config.cpus_per_trial, gpus_per_trial=config.gpus_per_trial,
            keep_weights=config.keep_weights > 0, timeout=config.trial_timeout,
        ) as evaluator:  # fmt: skip
            weights = WeightStore(config.weights_dir or default_weights_dir(config.db), config.keep_weights)
            epoch = checkpoint_epoch(config.pruning, config.budget, len(fitness_data.x_train))
            if config.pruning.enabled and epoch is None:
                log.info(
                    "pruning off for this run: its checkpoint would come before %d optimiser steps, "
                    "too early for clustering scores to mean anything (raise --epochs)",
                    config.pruning.min_steps,
                )
            search = Search(
                config, space, fitness_data.input_shape, storage, evaluator, progress,
                eval_key=run.eval_key, reuse=reuse, weights=weights, checkpoint_epoch=epoch,
            )  # fmt: skip
            search.run(run, history)
    except KeyboardInterrupt:
        storage.update_run(run.id, "interrupted")
        raise
    except BaseException as exc:
        storage.update_run(run.id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    storage.update_run(run.id, "finished")
    return storage.get_run(run.id)
