"""What the dashboard shows, as JSON-ready dicts read from the storage (nothing here writes)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from evonas.genomes import Genome
from evonas.statuses import EvalStatus, RunStatus
from evonas.storage import GenerationRecord, RunInfo, RunStorage
from evonas.views.progress import progress_of
from evonas.views.report import pareto_front
from evonas.views.runs import best_individual, counts, curves, individuals, shown_status, wall_seconds
from evonas.views.tables import individual_json


def run_row(run: RunInfo, gens: list[GenerationRecord]) -> dict[str, Any]:
    best = best_individual(gens)
    return {
        "id": run.id,
        "name": run.name,
        "status": shown_status(run),
        "dataset": str(run.config.get("dataset", {}).get("name", "?")),
        "selection": run.config.get("selection"),
        "best_acc": best.metrics.acc if best else None,
        "best_nmi": best.metrics.nmi if best else None,
        "best_score": best.score if best else None,
        "generations": len(gens),
        "evaluations": counts(individuals(gens)).trained,
        "elapsed_s": wall_seconds(run),
        "stop_reason": run.stop_reason,
    }


def runs(storage: RunStorage) -> list[dict[str, Any]]:
    return [run_row(r, storage.load_generations(r.id)) for r in storage.list_runs()]


def layers(genome: Genome) -> list[dict[str, str]]:
    """The genome as its layer sequence: each gene's kind and a short label (``conv 16 3x3 relu``)."""
    out = [{"kind": gene.kind, "label": gene.label()} for gene in genome.genes]
    if genome.recipe is not None:
        out.append({"kind": "recipe", "label": genome.recipe.compact()})
    return out


def run_detail(storage: RunStorage, key: str | int) -> dict[str, Any]:
    run = storage.get_run(key)
    gens = storage.load_generations(run.id)
    line = curves(gens)
    by_hash = {i.hash: i for g in gens for i in g.individuals if i.status != EvalStatus.CACHED}
    last = gens[-1] if gens else None
    population = []
    if last is not None:
        for h in last.population:
            ind = by_hash.get(h)
            if ind is not None:
                population.append({**individual_json(ind), "layers": layers(Genome.from_json(ind.genome))})
    pareto: list[str] = []
    if run.config.get("selection") == "nsga2" and last is not None:
        points = [i for i in by_hash.values() if i.complete and i.metrics.recon_loss is not None]
        pareto = [i.hash for i in pareto_front(points)]
    failures = [
        {"generation": g.index, "hash": i.hash, "compact": Genome.from_json(i.genome).compact(),
         "error": i.error}
        for g in gens for i in g.individuals if i.status == EvalStatus.FAILED
    ]  # fmt: skip
    scatter = [
        {"hash": i.hash, "score": i.score, "recon_loss": i.metrics.recon_loss}
        for i in by_hash.values() if i.complete and i.metrics.recon_loss is not None
    ]  # fmt: skip
    live = None
    if run.status == RunStatus.RUNNING:  # from the generations read above: no second read
        progress = progress_of(storage, run, gens)
        live = {**asdict(progress), "line": progress.render()}
    return {
        "run": run_row(run, gens),
        "config": {k: v for k, v in run.config.items() if k != "db"},
        "curves": {"best_so_far": list(line.best_so_far), "best": list(line.best), "mean": list(line.mean)},
        "population": population,
        "pareto": pareto,
        "points": scatter,
        "failures": failures,
        "live": live,
    }
