"""Plain value types that cross the storage interface (no ORM objects leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evonas.errors import INFRASTRUCTURE

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
INDIVIDUAL_STATUSES = ("ok", "failed", "cached")


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    status: str
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


@dataclass(frozen=True)
class IndividualRecord:
    """One evaluated (or cached, or failed) individual of a generation."""

    hash: str
    genome: str  # canonical JSON
    parents: tuple[str, ...]  # hashes
    operator: str  # "init", "mutate:add", "crossover", "crossover+mutate:swap", ...
    status: str  # one of INDIVIDUAL_STATUSES
    seed: int
    acc: float | None = None
    nmi: float | None = None
    ari: float | None = None
    recon_loss: float | None = None
    baseline_loss: float | None = None
    params: int | None = None
    seconds: float = 0.0
    error: str | None = None
    node: str | None = None
    device: str | None = None

    @property
    def reusable(self) -> bool:
        """Whether this evaluation may stand in for training the genome again: yes, unless the
        infrastructure (not the genome) made it fail."""
        return not (self.error or "").startswith(INFRASTRUCTURE)

    def metrics(self) -> dict[str, float | int | None]:
        return {
            "acc": self.acc,
            "nmi": self.nmi,
            "ari": self.ari,
            "recon_loss": self.recon_loss,
            "params": self.params,
        }


@dataclass(frozen=True)
class GenerationRecord:
    """A completed generation: what was evaluated in it and which hashes survived selection."""

    index: int
    population: tuple[str, ...]
    individuals: tuple[IndividualRecord, ...] = field(default_factory=tuple)
    seconds: float = 0.0
