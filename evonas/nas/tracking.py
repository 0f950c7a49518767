"""The live figures of a search: the generation in flight, what is stored for ``nas status``, and
the snapshot the progress display draws. The loop reports events; this keeps the counts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from evonas.metrics import DEFAULT_OBJECTIVE, Objective
from evonas.ranking import best_score
from evonas.statuses import EvalStatus
from evonas.values import EvalResult
from evonas.views.progress import RunProgress, StoredProgress, estimate_left, within_budget


@dataclass
class GenerationFigures:
    """Counts of the generation in flight."""

    index: int
    total: int
    cached: int
    slots: int
    done: int = 0
    failed: int = 0
    pruned: int = 0
    best: float | None = None  # the best complete score among this generation's new evaluations


class Tracker:
    """Counts evaluations as they finish and turns them into :class:`RunProgress` snapshots."""

    def __init__(
        self,
        name: str,
        last_generation: int,
        per_generation: int,
        time_budget: float | None = None,
        objective: Objective = DEFAULT_OBJECTIVE,
    ) -> None:
        self.objective = objective  # what the best of a generation is by
        self.name = name
        self.time_budget = time_budget  # seconds this driver may run: the time left caps the estimate
        self.last_generation = last_generation
        self.per_generation = per_generation
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC).replace(tzinfo=None)
        self.evaluated = 0  # evaluations this driver has finished
        self.generation: GenerationFigures | None = None
        self.stored: StoredProgress | None = None

    def generation_started(
        self, index: int, total: int, cached: int, to_evaluate: int, slots: int
    ) -> StoredProgress:
        """A generation begins: ``total`` candidates, ``cached`` of them known, ``to_evaluate``
        evaluations (journaled ones included, as ``nas status`` counts the journal)."""
        self.generation = GenerationFigures(index, total, cached, slots, done=cached)
        self.stored = StoredProgress(
            generation=index, total=total, cached=cached, to_evaluate=to_evaluate, slots=slots,
            run_started_at=self.started_at.isoformat(), evaluated_before=self.evaluated,
        )  # fmt: skip
        return self.stored

    def more_evaluations(self, count: int) -> StoredProgress:
        """``count`` second-seed evaluations join the generation in flight."""
        assert self.generation is not None and self.stored is not None
        self.generation.total += count
        self.stored = StoredProgress(
            **self.stored.to_json() | {"total": self.generation.total,
                                       "to_evaluate": self.stored.to_evaluate + count}
        )  # fmt: skip
        return self.stored

    def finished(self, result: EvalResult, *, new: bool) -> None:
        """One evaluation of the generation is done (``new``: by this driver, not the journal)."""
        g = self.generation
        assert g is not None
        self.evaluated += new
        g.done += 1
        g.failed += result.status == EvalStatus.FAILED
        g.pruned += result.status == EvalStatus.PRUNED
        if result.status == EvalStatus.OK:
            g.best = best_score([g.best, result.metrics.score(self.objective)])

    def _capped(self, eta: float | None, elapsed: float) -> float | None:
        return within_budget(eta, self.time_budget, elapsed)

    def snapshot(self, run_best: float | None) -> RunProgress | None:
        """The figures of the generation in flight (or the last one); None before the first."""
        g = self.generation
        if g is None:
            return None
        elapsed = time.perf_counter() - self.started
        left = g.total - g.done
        return RunProgress(
            name=self.name, status="running", generation=g.index, last=self.last_generation,
            done=g.done, total=g.total, running=min(g.slots, left), failed=g.failed, pruned=g.pruned,
            cached=g.cached, best_acc=best_score([run_best, g.best]), elapsed=elapsed,
            objective=self.objective,
            eta=self._capped(estimate_left(self.evaluated, elapsed, left, self.last_generation - g.index,
                                           self.per_generation), elapsed),
        )  # fmt: skip
