"""The figures of a run in progress: one dataclass, filled live by the loop or from the database.

``nas run`` draws it while it works and ``nas status`` rebuilds it from the database in another
terminal, so both show the same figures, rendered by the same function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from evonas.clock import duration_text, utc_now
from evonas.metrics import DEFAULT_OBJECTIVE
from evonas.ranking import best_score
from evonas.statuses import EvalStatus, RunStatus
from evonas.storage import GenerationRecord, RunInfo, RunStorage
from evonas.storage.liveness import driver_state, shown_status
from evonas.storage.records import JOURNAL_CANDIDATE
from evonas.values import UNTIL_TIME_IS_SPENT, EvalResult
from evonas.views.runs import counts, run_objective, wall_seconds


@dataclass(frozen=True)
class StoredProgress:
    """What the driver stores about the generation in flight (``runs.progress``), so that another
    process can rebuild the live figures from the database alone."""

    generation: int
    total: int  # candidates in the generation (second-seed evaluations included once known)
    cached: int  # candidates that need no training (their genome was evaluated before)
    to_evaluate: int  # evaluations the generation dispatches (journaled ones included)
    slots: int  # evaluations that run at once
    run_started_at: str  # ISO time (UTC) this driver started or resumed the run
    evaluated_before: int  # evaluations this driver finished before the generation

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredProgress:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RunProgress:
    name: str
    status: str
    generation: int | None  # None before generation 0 is stored
    last: int  # the last generation the run will make
    done: int  # evaluations finished or cached in this generation
    total: int  # candidates in this generation
    running: int
    failed: int
    pruned: int
    cached: int
    best_acc: float | None
    elapsed: float  # seconds since this driver started the run (or resumed it)
    eta: float | None  # estimated seconds left for the whole run
    epochs: tuple[tuple[int, int], ...] = ()  # (done, total) of the evaluations in flight
    objective: str = DEFAULT_OBJECTIVE  # what best_acc is: the run's objective metric

    def render(self) -> str:
        parts = [
            f"{self.name} {self.status}",
            "waiting for generation 0"
            if self.generation is None
            else f"generation {self.generation}"
            + ("" if self.last >= UNTIL_TIME_IS_SPENT else f"/{self.last}"),
            f"{self.done}/{self.total} done",
            f"{self.running} running"
            + (f" (epochs {', '.join(f'{d}/{t}' for d, t in self.epochs)})" if self.epochs else ""),
            f"{self.failed} failed",
        ]
        if self.pruned:
            parts.append(f"{self.pruned} pruned")
        parts += [
            f"{self.cached} cached",
            f"best {self.objective.upper()} "
            + (f"{self.best_acc:.4f}" if self.best_acc is not None else "-"),
            f"elapsed {duration_text(self.elapsed)}",
            f"left ~{duration_text(self.eta)}" if self.eta is not None else "left -",
        ]
        return " | ".join(parts)


def estimate_left(
    evaluations_done: int, elapsed: float, left_in_generation: int, generations_left: int, per_generation: int
) -> float | None:
    """Seconds left, from the rate of evaluations this driver has finished so far."""
    if evaluations_done <= 0 or elapsed <= 0:
        return None
    rate = evaluations_done / elapsed
    return (left_in_generation + generations_left * per_generation) / rate


def within_budget(eta: float | None, budget: float | None, elapsed: float) -> float | None:
    """A time-budgeted run's estimate never goes past the time left."""
    if budget is None:
        return eta
    left = max(0.0, float(budget) - elapsed)
    return left if eta is None else min(eta, left)


def progress_from_storage(storage: RunStorage, key: str | int) -> RunProgress:
    """Rebuild a run's progress figures from the database alone (for ``nas status``)."""
    run = storage.get_run(key)
    return progress_of(storage, run, storage.load_generations(run.id))


def progress_of(storage: RunStorage, run: RunInfo, gens: list[GenerationRecord]) -> RunProgress:
    """The progress figures of ``run`` whose stored generations the caller has already read (the
    journal of a running generation is read here)."""
    best = best_score(i.score for g in gens for i in g.individuals if i.complete)
    stored_last = gens[-1].index if gens else None
    last = int(run.config.get("generations", stored_last or 0))
    per_generation = int(run.config.get("offspring") or run.config.get("population") or 0)
    per_generation += int(run.config.get("reevaluate") or 0)  # second-seed evaluations
    p = StoredProgress.from_json(run.progress) if run.progress else None
    alive = run.status == RunStatus.RUNNING and driver_state(run).alive
    if alive and p is not None and (stored_last is None or p.generation > stored_last):
        results = [
            EvalResult.model_validate_json(v)
            for k, v in storage.load_journal(run.id, p.generation).items()
            if not k.endswith(JOURNAL_CANDIDATE)  # steady-state also journals the candidate beside its result
        ]
        objective = run_objective(run)
        scores = (r.metrics.score(objective) for r in results if r.status == EvalStatus.OK)
        best = best_score([best, *scores])
        done_now = len(results)
        started = datetime.fromisoformat(p.run_started_at)
        elapsed = (utc_now() - started).total_seconds()
        return RunProgress(
            name=run.name, status=run.status, generation=p.generation, last=last,
            done=p.cached + done_now, total=p.total, running=min(p.slots, p.to_evaluate - done_now),
            failed=sum(r.status == EvalStatus.FAILED for r in results),
            pruned=sum(r.status == EvalStatus.PRUNED for r in results), cached=p.cached,
            best_acc=best, elapsed=elapsed, objective=objective,
            eta=within_budget(
                estimate_left(p.evaluated_before + done_now, elapsed, p.to_evaluate - done_now,
                              last - p.generation, per_generation),
                run.config.get("time_budget"), elapsed,
            ),
        )  # fmt: skip
    n = counts(gens[-1].individuals if gens else ())
    return RunProgress(
        name=run.name, status=shown_status(run), generation=stored_last, last=last,
        done=n.records, total=n.records, running=0, failed=n.failed, pruned=n.pruned, cached=n.cached,
        best_acc=best, elapsed=wall_seconds(run), eta=None, objective=run_objective(run),
    )  # fmt: skip
