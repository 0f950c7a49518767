"""Plain value types that cross the storage interface (no ORM objects leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evonas.errors import INFRASTRUCTURE
from evonas.metrics import DEFAULT_OBJECTIVE, Metrics, Objective
from evonas.statuses import EvalStatus, RunStatus

# Journal keys: a finished evaluation is journaled under its genome hash; a second seed's under
# hash + JOURNAL_REPLICATE; a steady-state candidate (genome, parents, operator) under hash +
# JOURNAL_CANDIDATE beside its result.
JOURNAL_REPLICATE = "/2"
JOURNAL_CANDIDATE = "@candidate"


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    status: RunStatus
    seed: int
    config: dict[str, Any]
    evonas_version: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    owner: str | None = None  # "host:pid" of the driver while the run is running
    eval_key: str = ""  # fingerprint of dataset + budget: evaluations under equal keys are reusable
    progress: dict[str, Any] | None = None  # the generation in flight, for `nas status`
    uid: str = ""  # a random identity, unique across databases (kept weights are filed under it)
    input_shape: tuple[int, int, int] | None = None  # (C, H, W) of its images; None: stored before 0003
    data_fingerprint: str | None = None  # digest of the images the search saw
    heartbeat_at: datetime | None = None  # refreshed by a live driver (UTC)
    stop_reason: str | None = None  # why a finished run stopped before its last generation


@dataclass(frozen=True)
class IndividualRecord:
    """One evaluated (or cached, or failed) individual of a generation."""

    hash: str
    genome: str  # canonical JSON
    parents: tuple[str, ...]  # hashes
    operator: str  # "init", "mutate:add", "crossover", "crossover+mutate:swap", ...
    status: EvalStatus
    seed: int
    metrics: Metrics = field(default_factory=Metrics)
    seconds: float = 0.0
    error: str | None = None
    node: str | None = None
    device: str | None = None
    rung_acc: float | None = None  # the objective at the last pruning checkpoint reached (None: none)
    rung_scores: dict[int, float] = field(default_factory=dict)  # epoch -> objective, each checkpoint
    pruned_at: int | None = None  # the epoch training stopped at when pruned (copied by cached copies)
    evaluations: tuple[dict[str, Any], ...] = ()  # each seed's metrics when re-evaluated; metrics = mean
    head_seconds: float | None = None  # of ``seconds``, the clustering head's (None: not measured)
    objective: Objective = DEFAULT_OBJECTIVE  # what the run ranks by (``--objective``)

    @property
    def reusable(self) -> bool:
        """Whether this evaluation may stand in for training the genome again: yes, unless the
        infrastructure (not the genome) made it fail."""
        return not (self.error or "").startswith(INFRASTRUCTURE)

    @property
    def score(self) -> float | None:
        """The score the search maximises: its ``objective`` metric (the silhouette without labels),
        by the one rule :meth:`Metrics.score`."""
        return self.metrics.score(self.objective)

    @property
    def complete(self) -> bool:
        """Fully evaluated with a score: not failed, not pruned."""
        return self.score is not None and self.pruned_at is None and self.status != EvalStatus.FAILED


@dataclass(frozen=True)
class GenerationRecord:
    """A completed generation: what was evaluated in it and which hashes survived selection."""

    index: int
    population: tuple[str, ...]
    individuals: tuple[IndividualRecord, ...] = field(default_factory=tuple)
    seconds: float = 0.0
