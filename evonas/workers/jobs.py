"""What the loop asks a worker to evaluate: a genome, its training seed, its pruning rungs.

No Ray here: the loop builds jobs without starting anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evonas.genomes import Genome
from evonas.values import Rung


@dataclass(frozen=True)
class EvalJob:
    genome: Genome
    seed: int
    rungs: tuple[Rung, ...] = ()  # the pruning checkpoints, if any


FollowUp = Callable[[int], Sequence[EvalJob]]
"""Called by ``evaluate`` after each job of the batch finishes, with how many have not: more jobs
to run in the same batch (the generational loop starts second seeds this way)."""
