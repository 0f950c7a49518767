"""Start or resume a run: load the data, open storage, start Ray, evolve, and keep the status true."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from evonas import ranking
from evonas.datasets import SearchSplits, load_dataset, search_splits
from evonas.datasets.loaders import ImageData
from evonas.datasets.splits import SPLIT_SEED
from evonas.errors import ConfigError, InvalidGenomeError, NASError
from evonas.genomes import Genome, SearchSpace, validate_genome
from evonas.genomes.references import seed_genome
from evonas.metrics import DEFAULT_OBJECTIVE
from evonas.nas.config import DatasetConfig, RunConfig, format_validation_error
from evonas.nas.core import Progress
from evonas.nas.evolution import Search
from evonas.nas.presets import apply_preset, resolve_steps
from evonas.nas.pruning import rung_epochs
from evonas.nas.steady import SteadyStateSearch
from evonas.statuses import RunStatus
from evonas.storage import GenerationRecord, RunInfo, RunStorage, SQLStorage, mask_password
from evonas.storage.base import check_new_run_name
from evonas.storage.liveness import HEARTBEAT_SECONDS, HEARTBEAT_STALE, driver_state, this_process
from evonas.storage.weights import WeightStore, default_weights_dir
from evonas.values import FitnessData
from evonas.workers.dispatch import RayEvaluator

log = logging.getLogger(__name__)


def prepare_data(cfg: DatasetConfig, data: ImageData | None = None) -> tuple[SearchSplits, FitnessData]:
    """Load (unless given) and split the dataset; the fitness data holds the training and
    validation splits."""
    data = data if data is not None else load_dataset(cfg.name, cfg.data_dir, cfg.layout)
    if data.n_classes == 1:
        raise ConfigError(
            f"The labels of dataset {cfg.name!r} hold a single class: clustering accuracy against them "
            "would be 1.0 whatever the model. Give the real labels, or save the file without 'y' and "
            "pass --clusters K to search without labels."
        )
    splits = search_splits(data, val_size=cfg.val_size, test_fraction=cfg.test_fraction, subset=cfg.subset)
    n_clusters = cfg.clusters or data.n_classes
    if n_clusters is None:
        raise ConfigError(
            f"Dataset {cfg.name!r} has no labels, so the number of clusters is unknown: "
            "pass --clusters K (the number of groups k-means should find)."
        )
    if n_clusters > len(splits.val.x):
        raise ConfigError(
            f"The 'clusters' option must be at most the {len(splits.val.x)} validation images k-means "
            f"partitions. Got {n_clusters} instead (lower --clusters or raise --val-size)."
        )
    if splits.val.y is None:
        log.warning(
            "dataset %s has no labels: clustering accuracy cannot be computed; the search maximises "
            "the silhouette of the k-means partition (k=%d) of the validation codes instead",
            cfg.name, n_clusters,
        )  # fmt: skip
    return splits, FitnessData(splits.train.x, splits.val.x, splits.val.y, n_clusters)


def data_fingerprint(data: FitnessData) -> str:
    """A digest of the images (and labels) the search trains and scores on."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.x_val, data.y_val):
        if array is not None:
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:32]


def evaluation_key(config: RunConfig) -> str:
    """A fingerprint of what a genome's metrics depend on besides the genome and its seed:
    the data (and its splits) and the training budget. Runs with equal keys may share
    evaluations (``--reuse``)."""
    ds = config.dataset
    data_dir = str(Path(ds.data_dir).resolve()) if ds.data_dir else None
    dataset = ds.model_dump(mode="json")
    if ds.layout == "auto":  # added later: the key of runs that never set it stays as it was
        del dataset["layout"]
    budget = config.budget.model_dump(mode="json")
    if config.budget.head == "kmeans":  # added later, as layout was
        del budget["head"]
    if config.budget.steps is None:
        del budget["steps"]
    if config.budget.objective == DEFAULT_OBJECTIVE:  # added later, as layout was
        del budget["objective"]
    what = {
        "dataset": {**dataset, "data_dir": data_dir, "split_seed": SPLIT_SEED},
        "budget": budget,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{config.dataset.name}-{stamp}-{secrets.token_hex(2)}"


class Heartbeat:
    """Records the driver's heartbeat every ``every`` seconds from a background thread while the
    search runs (evaluations can take minutes without anything else being written)."""

    def __init__(self, storage: RunStorage, run_id: int, every: float = HEARTBEAT_SECONDS) -> None:
        self.storage, self.run_id, self.every = storage, run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="evonas-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.storage.heartbeat(self.run_id)
            except NASError as exc:  # a busy database: the next beat will do
                log.debug("heartbeat not recorded: %s", exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def best_genomes_of(db: str, key: str, top: int) -> list[str]:
    """The compact forms of the ``top`` best genomes of another run in ``db`` (warm start)."""
    with SQLStorage(db, create=False) as storage:
        run = storage.get_run(key)
        best = ranking.ranked(i for g in storage.load_generations(run.id) for i in g.individuals)
    if not best:
        raise NASError(f"Run {run.name!r} has no fully evaluated genome to start from (--seed-from).")
    return [Genome.from_json(r.genome).compact() for r in best[:top]]


def _check_reuse(config: RunConfig, reuse: bool) -> None:
    if reuse and config.mode == "steady-state":
        raise ConfigError(
            "--reuse works in the generational mode only: leave it out with --mode steady-state."
        )


def run_search(
    config: RunConfig,
    progress: Progress | None = None,
    *,
    reuse: bool = False,
    seed_from: str | None = None,
    seed_top: int = 3,
) -> RunInfo:
    """Run a whole search as configured and return the stored run.

    The stored configuration has the search space resolved (a preset for the input shape
    when none was given), so the database alone says what the run did.
    """
    _check_reuse(config, reuse)
    if config.name is not None:
        check_new_run_name(config.name)  # before the data is loaded
    if seed_from is not None:
        config = config.model_copy(
            update={"seed_genomes": (*config.seed_genomes, *best_genomes_of(config.db, seed_from, seed_top))}
        )
    images = load_dataset(config.dataset.name, config.dataset.data_dir, config.dataset.layout)
    config = apply_preset(config, images.input_shape, len(images.x))
    _, fitness_data = prepare_data(config.dataset, images)
    config = resolve_steps(config, len(fitness_data.x_train))
    for text in config.seed_genomes:  # refused before the run exists, naming the genome
        genome = seed_genome(text)
        try:
            validate_genome(genome, fitness_data.input_shape)
        except InvalidGenomeError as exc:
            raise ConfigError(
                f"--seed-genome {text!r} does not fit images of shape {fitness_data.input_shape}: {exc}"
            ) from None
    space = config.space_for(fitness_data.input_shape)
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
            _storable(config),
            config.seed,
            evaluation_key(config),
            this_process(),
            input_shape=fitness_data.input_shape,
            data_fingerprint=data_fingerprint(fitness_data),
        )
        return _evolve(config, space, fitness_data, storage, run, [], progress, reuse)


def _storable(config: RunConfig) -> dict[str, Any]:
    """The configuration as a run stores it: the database URL without its password (a stored
    configuration is shown by nas show --json and the report)."""
    return {**config.model_dump(mode="json"), "db": mask_password(config.db)}


def resume_search(
    key: str,
    db: str,
    *,
    generations: int | None = None,
    progress: Progress | None = None,
    reuse: bool = False,
    address: str | None = None,
    cpus: int | None = None,
    time_budget: float | None = None,
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
        space = stored.get("search_space")
        if isinstance(space, dict) and "recipes" not in space:  # made before recipes evolved
            stored["search_space"] = {**space, "recipes": False}
        try:
            config = RunConfig.model_validate(stored)
        except ValidationError as exc:
            raise ConfigError(
                f"The stored configuration of run {run.name!r} (evonas {run.evonas_version}) no longer "
                f"validates: {format_validation_error(exc)} It cannot be resumed with a different one; "
                "start a new run."
            ) from None
        _check_reuse(config, reuse)
        if run.status == RunStatus.RUNNING:
            state = driver_state(run)
            alive, why = state.alive, state.reason
            if alive:
                raise NASError(
                    f"Run {run.name!r} is still running: {why}. Stop that driver first (Ctrl-C, or kill "
                    f"it: it marks the run interrupted), or wait {HEARTBEAT_STALE:.0f} s after it died."
                )
            log.info("run %s was left marked running (%s): taking it over", run.name, why)
        history = storage.load_generations(run.id)
        target = config.generations if generations is None else generations
        done = len(history) - 1
        if target < done:
            raise ConfigError(f"The '--generations' option must be >= {done}, the last stored generation. "
                              f"Got {target} instead.")  # fmt: skip
        if target == done and run.status == RunStatus.FINISHED:
            raise NASError(
                f"Run {run.name!r} is finished with generations 0..{done}; pass --generations N with "
                f"N > {done} to extend it."
            )
        overrides: dict[str, object] = {"generations": target, "db": db}  # the stored one is masked
        if address is not None:
            overrides["address"] = address
        if cpus is not None:
            overrides["cpus"] = cpus
        if time_budget is not None:  # a new budget for this driver (each driver starts its own clock)
            overrides["time_budget"] = time_budget
        config = config.model_copy(update=overrides)
        if evaluation_key(config) != run.eval_key:
            raise ConfigError(f"Run {run.name!r} was evaluated under different data or budget settings.")
        _, fitness_data = prepare_data(config.dataset)
        space = config.space_for(fitness_data.input_shape)
        log.info("resuming run %s after generation %d of %d", run.name, done, target)
        storage.update_run(run.id, RunStatus.RUNNING, config=_storable(config), owner=this_process())
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
    stop_reason: str | None = None
    try:
        with RayEvaluator(
            fitness_data, config.budget, address=config.address,
            num_cpus=config.cpus, cpus_per_trial=config.cpus_per_trial, gpus_per_trial=config.gpus_per_trial,
            keep_weights=config.keep_weights > 0, timeout=config.trial_timeout,
        ) as evaluator:  # fmt: skip
            weights = WeightStore(
                config.weights_dir or default_weights_dir(config.db), config.keep_weights, run
            )
            epochs = rung_epochs(config.pruning, config.budget, len(fitness_data.x_train))
            if config.pruning.enabled and len(epochs) < len(config.pruning.checkpoints):
                log.info(
                    "pruning checkpoints dropped: %d of %d would come before %d optimiser steps, too "
                    "early for clustering scores to mean anything (raise --steps); checked after epochs %s",
                    len(config.pruning.checkpoints) - len(epochs), len(config.pruning.checkpoints),
                    config.pruning.min_steps, list(epochs) or "none",
                )  # fmt: skip
            kind = SteadyStateSearch if config.mode == "steady-state" else Search
            search = kind(
                config, space, fitness_data.input_shape, storage, evaluator, progress,
                eval_key=run.eval_key, reuse=reuse, weights=weights,
                rung_epochs=() if config.mode == "steady-state" else epochs,
            )  # fmt: skip
            with Heartbeat(storage, run.id):
                search.run(run, history)
            stop_reason = search.stop_reason
    except KeyboardInterrupt:
        storage.update_run(run.id, RunStatus.INTERRUPTED)
        raise
    except BaseException as exc:
        storage.update_run(run.id, RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    storage.update_run(run.id, RunStatus.FINISHED, stop_reason=stop_reason)
    return storage.get_run(run.id)
