"""Second seeds of one generation (``reevaluate``): which candidates get one, and those that may
start before the generation's barrier.

The state lives in a :class:`SecondSeeds` value made per generation and handed from the
evaluation of its candidates to their re-evaluation, never kept on the loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evonas import ranking
from evonas.genomes import Genome
from evonas.metrics import Objective
from evonas.nas.breeding import Candidate
from evonas.nas.outcomes import record_of
from evonas.seeds import evaluation_seed
from evonas.statuses import EvalStatus
from evonas.storage import IndividualRecord
from evonas.values import EvalResult
from evonas.workers.jobs import EvalJob


def second_job(seed: int, record: IndividualRecord) -> EvalJob:
    """The second evaluation of a record's genome: its own seed, the full budget, never pruned."""
    return EvalJob(Genome.from_json(record.genome), evaluation_seed(seed, record.hash, 1))


def to_reevaluate(records: Sequence[IndividualRecord], count: int) -> list[IndividualRecord]:
    """The ``count`` best new complete evaluations of a generation: those a second seed checks."""
    fresh = [r for r in records if r.status == EvalStatus.OK and not r.evaluations]
    return ranking.ranked(fresh)[:count]


@dataclass
class SecondSeeds:
    """The second seeds of one generation: those started early, and their results so far.

    A finished candidate ranked ``p``-th among those finished, with ``r`` still running, is
    certain to be among the ``count`` best once all are in when ``p + r <= count`` (the ``r`` can
    only rank above it). Only such certain ones start early, in a slot the barrier would leave
    idle, so the generation's outcome is exactly what it would be without them: nothing is
    speculative, nothing wasted.
    """

    count: int  # the generation's ``reevaluate``
    seed: int  # the run's seed
    candidates: Sequence[Candidate]
    objective: Objective  # the run's: what ranks the finished candidates
    started: set[str] = field(default_factory=set)  # hashes whose second seed started or is journaled
    results: dict[str, EvalResult] = field(default_factory=dict)  # finished second seeds by hash

    def __post_init__(self) -> None:
        self._order = list(dict.fromkeys(c.genome.hash for c in self.candidates))  # distinct, in order
        self._first = {c.genome.hash: c for c in reversed(self.candidates)}  # each hash's first candidate

    def early(self, firsts: Mapping[str, EvalResult], remaining: int) -> list[EvalJob]:
        """The second seeds certain enough to start now, given the first evaluations finished
        (``firsts``) and ``remaining`` still running."""
        if remaining >= self.count:
            return []
        done = [record_of(self._first[h], firsts[h], self.objective) for h in self._order if h in firsts]
        certain = ranking.ranked(r for r in done if r.status == EvalStatus.OK)[: self.count - remaining]
        jobs = [second_job(self.seed, r) for r in certain if r.hash not in self.started]
        self.started.update(job.genome.hash for job in jobs)
        return jobs
