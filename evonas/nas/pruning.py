"""Early stopping of hopeless candidates: successive halving with deterministic thresholds.

Each evaluation is scored at one or more checkpoints (rungs) of its training budget, e.g. after a
quarter and after half of its epochs. Why not Ray Tune's ASHA: ASHA promotes or stops a trial by
comparing it with whichever trials happened to reach the rung before it, so what is pruned depends
on worker timing, and a resumed run would not repeat the uninterrupted one (the exact-resume
guarantee). Here every bar is known before a generation is dispatched: in (mu + lambda) selection
an offspring survives only if it beats the parents it competes with, so the threshold at each rung
is taken from the parents' own scores at that rung: their ``quantile`` minus a ``margin`` (the
seed-to-seed noise of one evaluation, 0.01-0.03 ACC). An offspring below it is stopped at that rung;
a higher ``quantile`` halves harder. Each evaluation decides for itself in its worker (no barrier,
no checkpoint shipping), and a run repeats exactly whatever the timing. Generation 0 has no parents
and is never pruned; it measures the rung scores for the generations after.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evonas.storage import IndividualRecord
from evonas.values import Budget


class PruningConfig(BaseModel):
    """When evaluations of clearly worse offspring stop early."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    checkpoints: tuple[float, ...] = Field(
        (0.5,),
        min_length=1,
        max_length=8,
        description="Shares of the budget's epochs at which evaluations are checked (the rungs).",
    )
    min_steps: int = Field(
        500,
        ge=0,
        description="A rung coming after fewer optimiser steps is dropped (clustering scores that "
        "early carry little signal: bench/README.md, 'Fitness budget').",
    )
    quantile: float = Field(0.5, ge=0, le=1, description="Of the parents' scores at the rung.")
    margin: float = Field(0.02, ge=0, description="How far below that quantile is 'clearly worse'.")

    @model_validator(mode="before")
    @classmethod
    def _one_checkpoint(cls, data: Any) -> Any:
        """Configurations stored before successive halving name a single ``checkpoint``."""
        if isinstance(data, dict) and "checkpoint" in data:
            data = dict(data)
            single = data.pop("checkpoint")
            data.setdefault("checkpoints", (single,))
        return data

    @field_validator("checkpoints")
    @classmethod
    def _shares(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        return check_checkpoints(value)


def check_checkpoints(value: tuple[float, ...]) -> tuple[float, ...]:
    """Rungs are increasing, distinct shares of the budget strictly between 0 and 1."""
    if any(not 0 < c < 1 for c in value):
        raise ValueError(f"each checkpoint must be a share of the budget between 0 and 1, got {value}")
    if list(value) != sorted(set(value)):
        raise ValueError(f"checkpoints must be increasing and distinct, got {value}")
    return value


def rung_epochs(pruning: PruningConfig, budget: Budget, n_train: int) -> tuple[int, ...]:
    """The epochs after which evaluations are checked (empty: pruning cannot apply)."""
    if not pruning.enabled or budget.epochs < 2:
        return ()
    steps_per_epoch = math.ceil(n_train / budget.batch_size)
    epochs = {min(budget.epochs - 1, max(1, round(budget.epochs * c))) for c in pruning.checkpoints}
    return tuple(sorted(e for e in epochs if e * steps_per_epoch >= pruning.min_steps))


def scores_at(record: IndividualRecord, epochs: Sequence[int]) -> dict[int, float]:
    """A record's score at each rung; records stored before rungs had several kept only the one
    checkpoint's score (``rung_acc``), which belongs to a run's single rung."""
    if record.rung_scores:
        return record.rung_scores
    if record.rung_acc is not None and len(epochs) == 1:
        return {epochs[0]: record.rung_acc}
    return {}


def thresholds(
    parents: Sequence[IndividualRecord], pruning: PruningConfig, epochs: Sequence[int]
) -> dict[int, float]:
    """The score an offspring must reach at each rung to go on; a rung is left out (no pruning
    there) unless at least two fully evaluated parents have a score at it."""
    out: dict[int, float] = {}
    for epoch in epochs:
        scores = [s for p in parents if p.complete and (s := scores_at(p, epochs).get(epoch)) is not None]
        if len(scores) >= 2:
            out[epoch] = float(np.quantile(scores, pruning.quantile)) - pruning.margin
    return out
