"""The figures of a run in progress: one dataclass, filled live by the loop or from the database.

``nas run`` draws it while it works and ``nas status`` rebuilds it from the database in another
terminal, so both show the same figures, rendered by the same function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evonas.storage import RunStorage


@dataclass(frozen=True)
class RunProgress:
    name: str
    status: str
    generation: int
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

    def render(self) -> str:
        parts = [
            f"{self.name} {self.status}",
            f"generation {self.generation}/{self.last}",
            f"{self.done}/{self.total} done",
            f"{self.running} running",
            f"{self.failed} failed",
        ]
        if self.pruned:
            parts.append(f"{self.pruned} pruned")
        parts += [
            f"{self.cached} cached",
            f"best ACC {self.best_acc:.4f}" if self.best_acc is not None else "best ACC -",
            f"elapsed {_duration(self.elapsed)}",
            f"left ~{_duration(self.eta)}" if self.eta is not None else "left -",
        ]
        return " | ".join(parts)


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def estimate_left(
    evaluations_done: int, elapsed: float, left_in_generation: int, generations_left: int, per_generation: int
) -> float | None:
    """Seconds left, from the rate of evaluations this driver has finished so far."""
    if evaluations_done <= 0 or elapsed <= 0:
        return None
    rate = evaluations_done / elapsed
    return (left_in_generation + generations_left * per_generation) / rate


def progress_from_storage(storage: RunStorage, key: str | int) -> RunProgress:
    """Rebuild a run's progress figures from the database alone (for ``nas status``)."""
    run = storage.get_run(key)
    gens = storage.load_generations(run.id)
    p: dict[str, Any] = run.progress or {}
    scores = [i.score for g in gens for i in g.individuals if i.complete and i.score is not None]
    best = max(scores, default=None)
    stored_last = gens[-1].index if gens else -1
    index = int(p.get("generation", stored_last))
    last = int(run.config.get("generations", stored_last))
    per_generation = int(run.config.get("offspring") or run.config.get("population") or 0)
    per_generation += int(run.config.get("reevaluate") or 0)  # second-seed evaluations
    if run.status == "running" and index > stored_last:  # a generation in flight
        results = [json.loads(v) for v in storage.load_journal(run.id, index).values()]
        for r in results:
            score = r.get("acc") if r.get("acc") is not None else r.get("silhouette")
            if score is not None and r.get("status") == "ok":
                best = score if best is None else max(best, score)
        to_evaluate = int(p.get("to_evaluate", 0))
        done_now = len(results)
        started = datetime.fromisoformat(p["run_started_at"])
        elapsed = (datetime.now(UTC).replace(tzinfo=None) - started).total_seconds()
        return RunProgress(
            name=run.name, status=run.status, generation=index, last=last,
            done=int(p.get("cached", 0)) + done_now, total=int(p.get("total", 0)),
            running=min(int(p.get("slots", 1)), to_evaluate - done_now),
            failed=sum(r.get("status") == "failed" for r in results),
            pruned=sum(r.get("status") == "pruned" for r in results), cached=int(p.get("cached", 0)),
            best_acc=best, elapsed=elapsed,
            eta=estimate_left(int(p.get("evaluated_before", 0)) + done_now, elapsed,
                              to_evaluate - done_now, last - index, per_generation),
        )  # fmt: skip
    g = gens[-1] if gens else None
    inds = g.individuals if g else ()
    end = run.finished_at or run.updated_at
    return RunProgress(
        name=run.name, status=run.status, generation=stored_last, last=last,
        done=len(inds), total=len(inds), running=0,
        failed=sum(i.status == "failed" for i in inds), pruned=sum(i.status == "pruned" for i in inds),
        cached=sum(i.status == "cached" for i in inds), best_acc=best,
        elapsed=(end - run.created_at).total_seconds(), eta=None,
    )  # fmt: skip
