"""Early stopping of hopeless candidates: one checkpoint per evaluation, a threshold per generation.

Why not Ray Tune's ASHA: ASHA promotes or stops a trial by comparing it with whichever
trials happened to reach the rung before it, so what is pruned depends on worker timing, and
a resumed run would not repeat the uninterrupted one (the exact-resume guarantee). Here the bar is
known before a generation is dispatched: in (mu + lambda) selection an offspring survives
only if it beats the parents it competes with, so the threshold is taken from the parents'
own scores at the same checkpoint: their ``quantile`` minus a ``margin`` (the seed-to-seed
noise of one evaluation, 0.01-0.03 ACC). An offspring below it after ``checkpoint`` of its
budget is stopped there. Each evaluation decides for itself in its worker (no barrier, no
checkpoint shipping), and a run repeats exactly whatever the timing. Generation 0 has no
parents and is never pruned; it measures its checkpoint scores for the generations after.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evonas.storage import IndividualRecord
from evonas.workers import Budget


class PruningConfig(BaseModel):
    """When evaluations of clearly worse offspring stop early."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    checkpoint: float = Field(0.5, gt=0, lt=1, description="Share of the budget's epochs before the check.")
    min_steps: int = Field(
        500,
        ge=0,
        description="No pruning when the checkpoint comes after fewer optimiser steps (clustering "
        "scores that early carry little signal: bench/README.md, 'Fitness budget').",
    )
    quantile: float = Field(0.5, ge=0, le=1, description="Of the parents' checkpoint scores.")
    margin: float = Field(0.02, ge=0, description="How far below that quantile is 'clearly worse'.")


def checkpoint_epoch(pruning: PruningConfig, budget: Budget, n_train: int) -> int | None:
    """The epoch after which evaluations are checked, or None when pruning cannot apply."""
    if not pruning.enabled or budget.epochs < 2:
        return None
    epoch = min(budget.epochs - 1, max(1, round(budget.epochs * pruning.checkpoint)))
    steps = epoch * math.ceil(n_train / budget.batch_size)
    return epoch if steps >= pruning.min_steps else None


def threshold(parents: Sequence[IndividualRecord], pruning: PruningConfig) -> float | None:
    """The checkpoint score an offspring must reach to go on: None (no pruning) unless at
    least two fully evaluated parents have a checkpoint score."""
    scores = [p.rung_acc for p in parents if p.complete and p.rung_acc is not None]
    if len(scores) < 2:
        return None
    return float(np.quantile(scores, pruning.quantile)) - pruning.margin
