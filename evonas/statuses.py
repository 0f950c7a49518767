"""The states a run and an evaluated individual can be in (stored as these strings)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class EvalStatus(StrEnum):
    """An individual of a generation: trained and scored (``ok``), ``failed`` (its error says
    why), ``pruned`` at the checkpoint, or ``cached`` (a copy of an earlier evaluation)."""

    OK = "ok"
    FAILED = "failed"
    PRUNED = "pruned"
    CACHED = "cached"
