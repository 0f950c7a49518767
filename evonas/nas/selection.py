"""DEAP individuals and selection, defined in an importable module (no ``creator.create``).

``deap.creator.create`` writes classes into module globals at run time, so processes that
never ran it cannot unpickle such individuals (DEAP issue #628). These classes are
ordinary module-level classes. Randomness comes from an explicit numpy Generator: DEAP's
own random selections use the global ``random`` module, so only its deterministic tools
(``selBest``, ``selNSGA2``) are used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from deap import base, tools

from evonas.genomes import Genome
from evonas.ranking import unique
from evonas.storage import IndividualRecord

WORST_ACC = -100.0  # a failed candidate
PRUNED_SHIFT = -10.0  # a pruned candidate: its checkpoint score shifted below every complete one
WORST_LOSS = 1e9


class AccFitness(base.Fitness):
    """Maximise clustering accuracy; a candidate that failed gets the worst value."""

    weights = (1.0,)


class AccLossFitness(base.Fitness):
    """NSGA-II objectives: clustering accuracy up, reconstruction loss down."""

    weights = (1.0, -1.0)


def selection_value(record: IndividualRecord) -> float:
    """The objective selection sees: the score of a complete evaluation; a pruned one's checkpoint
    score shifted below every complete one; the worst value for a failure."""
    if record.complete:
        return float(record.score)  # type: ignore[arg-type]
    if record.pruned_at is not None and record.score is not None:
        return PRUNED_SHIFT + float(record.score)
    return WORST_ACC


class Individual:
    """A genome with its DEAP fitness and its stored record."""

    __slots__ = ("fitness", "genome", "record")

    def __init__(self, genome: Genome, record: IndividualRecord, multi_objective: bool = False) -> None:
        self.genome = genome
        self.record = record
        value = selection_value(record)
        if multi_objective:
            self.fitness: base.Fitness = AccLossFitness()
            recon = record.metrics.recon_loss
            loss = recon if recon is not None and value > WORST_ACC else WORST_LOSS
            self.fitness.values = (value, float(loss))
        else:
            self.fitness = AccFitness()
            self.fitness.values = (value,)

    @property
    def hash(self) -> str:
        return self.genome.hash

    def __repr__(self) -> str:
        return f"Individual({self.genome.compact()}, fitness={self.fitness.values})"


def tournament(
    individuals: Sequence[Individual], k: int, size: int, rng: np.random.Generator
) -> list[Individual]:
    """``k`` tournament winners (with replacement); ties go to the first drawn."""
    winners = []
    for _ in range(k):
        picks = rng.integers(len(individuals), size=min(size, len(individuals)))
        winners.append(max((individuals[int(i)] for i in picks), key=lambda ind: ind.fitness))
    return winners


def select_survivors(
    candidates: Sequence[Individual],
    mu: int,
    method: str,
    rng: np.random.Generator,
    tournament_size: int = 3,
    elites: int = 1,
) -> list[Individual]:
    """P(t+1) = select(P(t) U Q(t)) over distinct genomes; the best always survives.

    ``best`` keeps the mu fittest, ``tournament`` keeps ``elites`` fittest and fills up
    by tournaments among the rest (without repeats), ``nsga2`` uses DEAP's NSGA-II.
    """
    pool = unique(candidates)
    if len(pool) <= mu:
        return tools.selBest(pool, len(pool))
    if method == "best":
        return tools.selBest(pool, mu)
    if method == "nsga2":
        return tools.selNSGA2(pool, mu)
    survivors = tools.selBest(pool, max(1, elites))
    rest = [ind for ind in pool if ind not in survivors]
    while len(survivors) < mu:
        winner = tournament(rest, 1, tournament_size, rng)[0]
        survivors.append(winner)
        rest.remove(winner)
    return survivors
