"""Read-side views of a stored run: the JSON of ``nas show --json`` and its table form."""

from __future__ import annotations

from typing import Any

from evonas.genomes import Genome
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage


def best_individual(generations: list[GenerationRecord]) -> IndividualRecord | None:
    """The fully evaluated individual with the highest score (ACC, or the silhouette without
    labels); earliest on ties. Pruned and failed individuals never count."""
    best = None
    for gen in generations:
        for ind in gen.individuals:
            if ind.complete and (best is None or (ind.score or 0.0) > (best.score or -1.0)):
                best = ind
    return best


def individual_json(ind: IndividualRecord) -> dict[str, Any]:
    genome = Genome.from_json(ind.genome)
    return {
        "hash": ind.hash,
        "genome": genome.model_dump(mode="json"),
        "compact": genome.compact(),
        "parents": list(ind.parents),
        "operator": ind.operator,
        "status": ind.status,
        "error": ind.error,
        "metrics": ind.metrics(),
        "seconds": ind.seconds,
        "seed": ind.seed,
        "node": ind.node,
        "checkpoint_score": ind.rung_acc,
        "pruned_at_epoch": ind.pruned_at,
        "evaluations": list(ind.evaluations),
    }


def run_json(run: RunInfo, generations: list[GenerationRecord]) -> dict[str, Any]:
    """The object ``nas show --json`` prints."""
    best = best_individual(generations)
    return {
        "run_id": run.id,
        "name": run.name,
        "status": run.status,
        "seed": run.seed,
        "evonas_version": run.evonas_version,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "config": run.config,
        "generations": [
            {
                "index": g.index,
                "population": list(g.population),
                "evaluated": [individual_json(i) for i in g.individuals],
                "seconds": g.seconds,
            }
            for g in generations
        ],
        "best": None
        if best is None
        else {
            "hash": best.hash,
            "genome": Genome.from_json(best.genome).model_dump(mode="json"),
            "compact": Genome.from_json(best.genome).compact(),
            "metrics": best.metrics(),
        },
    }


def load_run_json(storage: RunStorage, key: str | int) -> dict[str, Any]:
    run = storage.get_run(key)
    return run_json(run, storage.load_generations(run.id))


def run_input_shape(run: RunInfo) -> tuple[int, int, int]:
    """The image shape (C, H, W) of the run's dataset."""
    from evonas.datasets import load_dataset

    ds = run.config.get("dataset", {})
    return load_dataset(ds.get("name", "digits"), ds.get("data_dir")).input_shape
