"""What an evaluation becomes in the run's records: a new record, a cached copy, or the mean of a
genome's two seeds. One rule each, for both loops."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from evonas.errors import INFRASTRUCTURE
from evonas.metrics import AVERAGED, OBJECTIVES, Metrics, Objective
from evonas.nas.breeding import Candidate
from evonas.statuses import EvalStatus
from evonas.storage import IndividualRecord
from evonas.values import EvalResult


def record_of(c: Candidate, r: EvalResult, objective: Objective) -> IndividualRecord:
    """The record of a candidate's own evaluation, ranked by the run's ``objective``."""
    return IndividualRecord(
        hash=c.genome.hash, genome=c.genome.canonical_json(), parents=c.parents, operator=c.operator,
        status=EvalStatus(r.status), seed=r.seed, metrics=r.metrics, seconds=r.seconds, error=r.error,
        node=r.node, device=r.device, rung_acc=r.rung_acc, rung_scores=r.rung_scores,
        pruned_at=r.pruned_at, head_seconds=r.head_seconds, objective=objective,
    )  # fmt: skip


def cached_copy(known: IndividualRecord, parents: tuple[str, ...], operator: str) -> IndividualRecord:
    """A candidate whose genome was evaluated before: that evaluation's figures under the
    candidate's own parents and operator, status cached, and nothing spent (no training time, no
    head time, no node)."""
    return replace(
        known, parents=parents, operator=operator, status=EvalStatus.CACHED, seconds=0.0,
        head_seconds=None, node=None, device=None,
    )  # fmt: skip


def _evaluation(seed: int, metrics: Metrics, seconds: float) -> dict[str, Any]:
    """One seed's figures as ``evaluations`` stores them."""
    values = metrics.to_json()
    return {"seed": seed, **{k: values[k] for k in AVERAGED}, "seconds": round(seconds, 3)}


def merge_second(first: IndividualRecord, second: EvalResult) -> IndividualRecord:
    """The record of a genome evaluated twice: each evaluation kept, metrics their mean.
    A second evaluation that failed fails the genome (it did not reproduce), unless the
    infrastructure made it fail: then the first evaluation stands alone."""
    one = _evaluation(first.seed, first.metrics, first.seconds)
    two = _evaluation(second.seed, second.metrics, second.seconds)
    head = None if first.head_seconds is None or second.head_seconds is None else (
        first.head_seconds + second.head_seconds
    )  # fmt: skip
    if (second.error or "").startswith(INFRASTRUCTURE):
        return replace(first, evaluations=(one, {**two, "error": second.error}))
    if second.status != EvalStatus.OK:
        unscored = first.metrics.model_copy(update=dict.fromkeys(OBJECTIVES))
        return replace(
            first, status=EvalStatus.FAILED, metrics=unscored,
            error=f"second evaluation (seed {second.seed}) {second.status}: {second.error}",
            evaluations=(one, two), seconds=first.seconds + second.seconds, head_seconds=head,
        )  # fmt: skip
    return replace(
        first, metrics=first.metrics.mean(second.metrics), evaluations=(one, two),
        seconds=first.seconds + second.seconds, head_seconds=head,
    )  # fmt: skip
