"""The JSON of ``nas show --json`` and the text tables of ``nas show``, ``nas runs`` and ``nas
compare``, built from the figures of :mod:`evonas.views.runs`."""

from __future__ import annotations

from typing import Any

from evonas.genomes import Genome
from evonas.metrics import Metrics
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.views.runs import (
    best_individual,
    counts,
    curves,
    individuals,
    scores_line,
    shown_status,
    trained,
    wall_seconds,
)


def individual_json(ind: IndividualRecord) -> dict[str, Any]:
    genome = Genome.from_json(ind.genome)
    return {
        "hash": ind.hash,
        "genome": genome.model_dump(mode="json"),
        "compact": genome.compact(),
        "parents": list(ind.parents),
        "operator": ind.operator,
        "status": str(ind.status),
        "error": ind.error,
        "metrics": ind.metrics.to_json(),
        "objective": ind.objective,
        "score": ind.score,  # the objective's value, by which the run ranked it
        "seconds": ind.seconds,
        "head_seconds": ind.head_seconds,
        "seed": ind.seed,
        "node": ind.node,
        "checkpoint_score": ind.rung_acc,  # at the last rung reached
        "rung_scores": {str(epoch): score for epoch, score in sorted(ind.rung_scores.items())},
        "pruned_at_epoch": ind.pruned_at,
        "evaluations": list(ind.evaluations),
    }


def run_json(run: RunInfo, generations: list[GenerationRecord]) -> dict[str, Any]:
    """The object ``nas show --json`` prints."""
    best = best_individual(generations)
    return {
        "run_id": run.id,
        "uid": run.uid,
        "name": run.name,
        "status": str(run.status),
        "shown_status": shown_status(run),  # "stale (heartbeat ... ago)" when a running run's driver is gone
        "seed": run.seed,
        "evonas_version": run.evonas_version,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "stop_reason": run.stop_reason,
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
            "metrics": best.metrics.to_json(),
        },
    }


def load_run_json(storage: RunStorage, key: str | int) -> dict[str, Any]:
    run = storage.get_run(key)
    return run_json(run, storage.load_generations(run.id))


def run_input_shape(run: RunInfo) -> tuple[int, int, int]:
    """The image shape (C, H, W) of the run's dataset: stored with the run; a run stored before
    that (schema revision 0003) has its dataset loaded to learn it."""
    if run.input_shape is not None:
        return run.input_shape
    from evonas.datasets import load_dataset

    ds = run.config.get("dataset", {})
    return load_dataset(ds.get("name", "digits"), ds.get("data_dir")).input_shape


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def generations_table(generations: list[GenerationRecord]) -> str:
    """``nas show``: per generation its evaluations, failures, its own best and mean score, and
    the run's best so far (a generation's best can dip while the run's best stands)."""
    rows = []
    line = curves(generations)
    for k, g in enumerate(generations):
        n = counts(g.individuals)
        rows.append([
            str(g.index), str(n.trained), str(n.failed), str(n.pruned), str(n.cached),
            _f(line.best[k]), _f(line.mean[k]), _f(line.best_so_far[k]), f"{g.seconds:.1f}",
        ])  # fmt: skip
    header = ["gen", "evaluated", "failed", "pruned", "cached", "best", "mean", "best so far", "seconds"]
    return text_table(header, rows)


def head_time(generations: list[GenerationRecord]) -> str | None:
    """How much of the evaluations' time the clustering head took (``nas show``, the report), e.g.
    "310.2 s of 2470.1 s (12.6%)"; None when no stored evaluation measured it (runs stored before
    schema revision 0006)."""
    timed = [i for i in trained(individuals(generations)) if i.head_seconds is not None]
    if not timed:
        return None
    head = sum(i.head_seconds or 0.0 for i in timed)
    total = sum(i.seconds for i in timed)
    share = f" ({100 * head / total:.1f}%)" if total > 0 else ""
    return f"{head:.1f} s of {total:.1f} s{share}"


def runs_table(storage: RunStorage) -> str | None:
    """``nas runs``: one row per run; None when there is none."""
    rows = []
    for run in storage.list_runs():
        gens = storage.load_generations(run.id)
        best = best_individual(gens)
        rows.append([
            str(run.id), run.name, shown_status(run), str(run.config.get("dataset", {}).get("name", "?")),
            str(len(gens)), _f(best.score if best else None), run.created_at.strftime("%Y-%m-%d %H:%M"),
        ])  # fmt: skip
    if not rows:
        return None
    return text_table(["id", "name", "status", "dataset", "generations", "best score", "created (UTC)"], rows)


def compare_table(storage: RunStorage, keys: list[str]) -> str:
    """``nas compare``: best metrics, evaluations and time of several runs side by side."""
    rows = []
    for key in keys:
        run = storage.get_run(key)
        gens = storage.load_generations(run.id)
        inds = individuals(gens)
        n = counts(inds)
        best = best_individual(gens)
        m = best.metrics if best else Metrics()
        rows.append([
            run.name, shown_status(run), str(run.config.get("dataset", {}).get("name", "?")), str(len(gens)),
            str(n.trained), str(n.cached), str(n.failed),
            _f(m.acc), _f(m.nmi), _f(m.ari), _f(m.silhouette),
            Genome.from_json(best.genome).compact() if best else "-",
            f"{sum(i.seconds for i in trained(inds)):.0f}", f"{wall_seconds(run):.0f}",
        ])  # fmt: skip
    header = ["run", "status", "dataset", "generations", "trained", "cached", "failed",
              "best acc", "nmi", "ari", "silhouette", "best genome", "eval s", "wall s"]  # fmt: skip
    return text_table(header, rows)


def nothing_scored(generations: list[GenerationRecord]) -> str:
    """Why a finished run has no best individual, and what to change."""
    evaluated = individuals(generations)
    failed = [i for i in evaluated if i.status == EvalStatus.FAILED]
    gated = sum(1 for i in failed if (i.error or "").startswith("gate"))
    lines = [f"warning: no candidate was scored: {len(failed)} of {len(evaluated)} evaluations failed"]
    if failed:
        lines.append(f"  e.g. {Genome.from_json(failed[0].genome).compact()}: {failed[0].error}")
    if gated:
        lines.append(
            f"  {gated} failed the reconstruction gate: give each candidate more training "
            "(--epochs, or more images with --subset)"
        )
    return "\n".join(lines)


def best_line(record: IndividualRecord) -> str:
    """``nas run``'s and ``nas show``'s line of a best individual: genome, scores, loss, size."""
    m = record.metrics
    compact = Genome.from_json(record.genome).compact()
    return f"{compact}  {scores_line(m)}  recon {m.recon_loss or 0.0:.5f}  params {m.params or 0:,}"
