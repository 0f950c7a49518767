"""The figures every read-side view shows of a stored run, each computed in one place: its
individuals, which were trained, the counts per status, the scores line, the per-generation
curves, its wall time and its status as shown (a running run whose driver is gone is stale)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from evonas import ranking
from evonas.clock import utc_now
from evonas.metrics import DEFAULT_OBJECTIVE, OBJECTIVES, Metrics, Objective
from evonas.statuses import EvalStatus, RunStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo
from evonas.storage.liveness import driver_state, shown_status

__all__ = [
    "Counts",
    "Curves",
    "best_individual",
    "counts",
    "curves",
    "individuals",
    "run_head",
    "scores_line",
    "shown_status",
    "trained",
    "wall_seconds",
]


def individuals(generations: Iterable[GenerationRecord]) -> list[IndividualRecord]:
    """Every record of every generation, in order (cached copies included)."""
    return [i for g in generations for i in g.individuals]


def trained(records: Iterable[IndividualRecord]) -> list[IndividualRecord]:
    """The records of evaluations that trained a model: everything but cached copies."""
    return [i for i in records if i.status != EvalStatus.CACHED]


@dataclass(frozen=True)
class Counts:
    """How many records of a set are in each state."""

    records: int
    trained: int
    ok: int
    failed: int
    pruned: int
    cached: int
    reevaluated: int  # trained records with a second seed


def counts(records: Iterable[IndividualRecord]) -> Counts:
    recs = list(records)
    by = {status: sum(i.status == status for i in recs) for status in EvalStatus}
    return Counts(
        records=len(recs), trained=len(recs) - by[EvalStatus.CACHED], ok=by[EvalStatus.OK],
        failed=by[EvalStatus.FAILED], pruned=by[EvalStatus.PRUNED], cached=by[EvalStatus.CACHED],
        reevaluated=sum(bool(i.evaluations) for i in recs if i.status != EvalStatus.CACHED),
    )  # fmt: skip


def run_objective(run: RunInfo) -> Objective:
    """What the run ranks by (its stored configuration's objective; ACC for runs stored before)."""
    value = (run.config.get("budget") or {}).get("objective")
    return value if value in OBJECTIVES else DEFAULT_OBJECTIVE


def best_individual(generations: Iterable[GenerationRecord]) -> IndividualRecord | None:
    """The run's best individual by :mod:`evonas.ranking` (failed and pruned never count)."""
    return ranking.best(individuals(generations))


def scores_line(metrics: Metrics) -> str:
    """ACC / NMI / ARI, or the silhouette when the data had no labels."""
    if metrics.acc is None:
        sil = metrics.silhouette
        return f"silhouette {sil:.4f} (no labels)" if sil is not None else "no score"
    return f"ACC {metrics.acc:.4f}  NMI {metrics.nmi or 0.0:.4f}  ARI {metrics.ari or 0.0:.4f}"


@dataclass(frozen=True)
class Curves:
    """Per stored generation: its index, its best and mean score over complete individuals, and
    the run's best so far (a generation's best can dip while the run's best stands)."""

    index: tuple[int, ...]
    best: tuple[float | None, ...]
    mean: tuple[float | None, ...]
    best_so_far: tuple[float | None, ...]


def curves(generations: Sequence[GenerationRecord]) -> Curves:
    index, best, mean, so_far = [], [], [], []
    running: float | None = None
    for g in generations:
        scores = [s for i in g.individuals if i.complete and (s := i.score) is not None]
        top = ranking.best_score(scores)
        running = ranking.best_score([running, top])
        index.append(g.index)
        best.append(top)
        mean.append(sum(scores) / len(scores) if scores else None)
        so_far.append(running)
    return Curves(tuple(index), tuple(best), tuple(mean), tuple(so_far))


def wall_seconds(run: RunInfo, now: datetime | None = None) -> float:
    """Wall time from the run's creation to its end: now while its driver is alive, else the
    last time it wrote (its end, or the last heartbeat of a driver that died)."""
    if run.status == RunStatus.RUNNING and driver_state(run, now).alive:
        end = now or utc_now()
    else:
        end = run.finished_at or max(t for t in (run.updated_at, run.heartbeat_at) if t is not None)
    return (end - run.created_at).total_seconds()


def run_head(run: RunInfo) -> str:
    """The head the run's fitness clusters codes with (its configuration is stored resolved)."""
    return str(run.config.get("budget", {}).get("head", "kmeans"))
