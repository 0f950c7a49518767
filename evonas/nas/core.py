"""What both loops share: the evaluator and progress they are given, the run's state (the
evaluations it knows, its best) rebuilt from storage and kept as evaluations finish, and the base
the two sibling loops (:mod:`~evonas.nas.evolution`, :mod:`~evonas.nas.steady`) stand on."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from evonas import ranking
from evonas.genomes import Genome, SearchSpace
from evonas.nas.breeding import Breeder
from evonas.nas.config import RunConfig
from evonas.nas.journal import Journal
from evonas.nas.selection import Individual
from evonas.nas.tracking import Tracker
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.storage.weights import WeightStore
from evonas.values import EvalResult
from evonas.views.progress import RunProgress
from evonas.workers.jobs import EvalJob, FollowUp


class Evaluator(Protocol):
    """Evaluates genomes; results come back in job order."""

    @property
    def slots(self) -> int:
        """How many evaluations run at once."""
        ...

    def evaluate(
        self,
        jobs: Sequence[EvalJob],
        on_result: Callable[[int, EvalResult], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        follow_up: FollowUp | None = None,
    ) -> list[EvalResult]:
        """Results in job order; ``on_result(i, result)`` as each finishes, ``on_tick()`` now and
        then while none does; ``follow_up(remaining)`` after each of ``jobs`` finishes may add
        jobs to the batch (indices after ``jobs``)."""
        ...

    def in_flight(self) -> list[tuple[int, int]]:
        """(epochs done, epochs) of the evaluations running now, as far as they have reported."""
        ...

    def submit(self, job: EvalJob) -> int:
        """Start one evaluation without waiting (steady-state mode); returns its ticket."""
        ...

    def wait_any(self, timeout: float) -> list[tuple[int, EvalResult]]:
        """The evaluations that have finished, by ticket: at least one unless ``timeout`` seconds
        pass first (then none)."""
        ...


class Progress(Protocol):
    """Where the loop reports its figures while it works (the CLI draws them)."""

    def update(self, progress: RunProgress, *, final: bool = False) -> None:
        """Called when a generation starts, after each evaluation, and (final) when it is stored."""


class RunState:
    """The evaluations a run knows (by hash, the one its figures come from) and its best."""

    def __init__(self) -> None:
        self.known: dict[str, IndividualRecord] = {}
        self.best: IndividualRecord | None = None

    def learn(self, record: IndividualRecord) -> None:
        """A record joins the run: an own evaluation replaces what was known of its genome (a cached
        copy never does, unless nothing was), and it is offered as the best."""
        if record.status != EvalStatus.CACHED or record.hash not in self.known:
            self.known[record.hash] = record
        if ranking.better(record, self.best):
            self.best = record

    def rank_again(self, extra: Iterable[IndividualRecord] = ()) -> None:
        """Scores moved (a second seed was averaged in): the best is chosen again."""
        self.best = ranking.best([*self.known.values(), *extra])

    def reusable(self, genome_hash: str) -> IndividualRecord | None:
        """The run's evaluation of a genome that a candidate may take instead of training, or None."""
        known = self.known.get(genome_hash)
        return known if known is not None and known.reusable else None

    def restore(self, history: Sequence[GenerationRecord], multi_objective: bool) -> list[Individual]:
        """Learn every stored record, in order; the last stored population, or [] for none."""
        for gen in history:
            for rec in gen.individuals:
                self.learn(rec)
        if not history:
            return []
        return [
            Individual(Genome.from_json(self.known[h].genome), self.known[h], multi_objective)
            for h in history[-1].population
        ]


class Loop(abc.ABC):
    """What a loop is given (configuration, breeding, storage, evaluator, progress, weight keeping)
    and what it keeps (the run's state, its tracker and journal, why it stopped early). The
    generational and the steady-state loop are its two subclasses; each writes only ``run``."""

    def __init__(
        self,
        config: RunConfig,
        space: SearchSpace,
        input_shape: tuple[int, int, int],
        storage: RunStorage,
        evaluator: Evaluator,
        progress: Progress | None = None,
        *,
        eval_key: str = "",
        reuse: bool = False,
        weights: WeightStore | None = None,
        rung_epochs: Sequence[int] = (),
    ) -> None:
        self.config = config
        self.breeder = Breeder(config, space, input_shape)
        self.storage = storage
        self.evaluator = evaluator
        self.progress = progress
        self.eval_key = eval_key  # with ``reuse``: evaluations of other runs under this key count
        self.reuse = reuse
        self.weights = weights
        self.rung_epochs = tuple(rung_epochs)  # pruning checkpoints (empty: no pruning)
        self.objective = config.budget.objective  # what every record of the run is ranked by
        self.state = RunState()
        self.tracker = Tracker("", config.generations, config.population)
        self.journal = Journal(storage, -1, weights, self.objective)
        self.stop_reason: str | None = None  # why the loop stopped before its last generation

    @abc.abstractmethod
    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        """Go on from the run's stored ``history`` until its generations are done or its time is."""

    def _begin(self, run: RunInfo, per_generation: int) -> None:
        """A driver takes the run: its journal, and a tracker whose clock starts now."""
        cfg = self.config
        self.journal = Journal(self.storage, run.id, self.weights, self.objective)
        self.tracker = Tracker(run.name, cfg.generations, per_generation, cfg.time_budget, self.objective)

    @property
    def best(self) -> IndividualRecord | None:
        """The run's best record so far (by the one ranking)."""
        return self.state.best

    def snapshot(self) -> RunProgress | None:
        """The figures of the generation in flight (or the last one)."""
        return self.tracker.snapshot(self.best.score if self.best else None)

    def _show(self, final: bool = False) -> None:
        """Draw the figures (with the epochs of running evaluations, until ``final``)."""
        if self.progress is None:
            return
        snapshot = self.snapshot()
        if snapshot is not None:
            if not final:
                snapshot = dataclasses.replace(snapshot, epochs=tuple(self.evaluator.in_flight()))
            self.progress.update(snapshot, final=final)
