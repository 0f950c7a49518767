"""Start a run: load the data, open storage, start Ray, evolve, and leave the run's status true."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from evonas.datasets import SearchSplits, load_dataset, search_splits
from evonas.errors import DatasetError
from evonas.genomes import SearchSpace
from evonas.nas.config import DatasetConfig, RunConfig
from evonas.nas.evolution import Progress, Search
from evonas.storage import RunInfo, SQLStorage
from evonas.workers import FitnessData, RayEvaluator

log = logging.getLogger(__name__)


def prepare_data(cfg: DatasetConfig) -> tuple[SearchSplits, FitnessData]:
    """Load and split the dataset; the fitness data holds the training and validation splits."""
    data = load_dataset(cfg.name, cfg.data_dir)
    splits = search_splits(data, val_size=cfg.val_size, test_fraction=cfg.test_fraction, subset=cfg.subset)
    if splits.val.y is None:
        raise DatasetError(f"Dataset {cfg.name!r} has no labels; clustering accuracy needs them.")
    n_clusters = data.n_classes or 0
    return splits, FitnessData(splits.train.x, splits.val.x, splits.val.y, n_clusters)


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{config.dataset.name}-{stamp}-{secrets.token_hex(2)}"


def run_search(config: RunConfig, progress: Progress | None = None) -> RunInfo:
    """Run a whole search as configured and return the stored run.

    The stored configuration has the search space resolved (a preset for the input shape
    when none was given), so the database alone says what the run did.
    """
    splits, fitness_data = prepare_data(config.dataset)
    space = config.search_space or SearchSpace.preset_for(fitness_data.input_shape)
    config = config.model_copy(
        update={"search_space": space, "name": config.name or default_run_name(config)}
    )
    storage = SQLStorage(config.db)
    try:
        run = storage.create_run(config.name or "", config.model_dump(mode="json"), config.seed)
        log.info(
            "run %s: %d training / %d validation images of %s, input %s",
            run.name, len(splits.train.x), len(splits.val.x), config.dataset.name, fitness_data.input_shape,
        )  # fmt: skip
        try:
            with RayEvaluator(
                fitness_data, config.budget, address=config.address,
                num_cpus=config.cpus, cpus_per_trial=config.cpus_per_trial,
            ) as evaluator:  # fmt: skip
                Search(config, space, fitness_data.input_shape, storage, evaluator, progress).run(run)
        except KeyboardInterrupt:
            storage.set_run_status(run.id, "interrupted")
            raise
        except BaseException as exc:
            storage.set_run_status(run.id, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        storage.set_run_status(run.id, "finished")
        return storage.get_run(run.id)
    finally:
        storage.close()
