"""Steady-state evolution (``--mode steady-state``): regularised evolution with ageing, no barrier.

Every finished evaluation at once gives its worker the next child, so workers never wait for the
slowest evaluation of a generation. The population is the ``population`` newest complete
individuals: each new one retires the oldest (ageing, Real et al. 2019). A child is bred from a
tournament among them (crossover and/or mutation as in the generational loop, by the same
:class:`~evonas.nas.breeding.Breeder`); the first ``population`` candidates are the seed genomes
and random ones. Failed evaluations never join the population.

Storage: each finished evaluation is journaled at once, with its candidate (genome, parents,
operator), and every ``population`` finished evaluations are stored as one record of the run's
generations table (its individuals in the order they finished, its population the ageing queue
at that point). A driver killed at any moment loses only the evaluations running then; ``nas
resume`` rebuilds the queue from the stored records and the journal and goes on. Results arrive in
the order workers finish, so two runs with one seed differ: this mode is resumable, not
bit-reproducible (the generational mode is).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from evonas.nas.breeding import Candidate
from evonas.nas.core import Loop
from evonas.nas.journal import journaled_candidates
from evonas.nas.outcomes import cached_copy, record_of
from evonas.nas.selection import Individual
from evonas.nas.timebudget import TimeBudget
from evonas.seeds import candidate_rng, evaluation_seed
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo
from evonas.workers.jobs import EvalJob

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # the longest wait for a result before the display is refreshed


@dataclass
class _Record:
    """The record of the generations table being filled: ``population`` finished evaluations."""

    index: int
    started: float = field(default_factory=time.perf_counter)
    individuals: list[IndividualRecord] = field(default_factory=list)


class SteadyStateSearch(Loop):
    """Regularised evolution on the same evaluator, storage, breeding and records as the
    generational :class:`~evonas.nas.evolution.Search`. ``reuse`` and pruning do not apply (the
    configuration turns pruning off for this mode)."""

    queue: deque[Individual]  # the ageing population, oldest first

    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        cfg = self.config
        target = (cfg.generations + 1) * cfg.population  # evaluations in all, as the generational mode
        self._begin(run, cfg.population)
        budget = TimeBudget(cfg.time_budget, self.tracker.started)
        self.queue = deque(self.state.restore(history, False))
        filling = self._start_record(len(history))
        self._journaled(filling)
        finished = filling.index * cfg.population + len(filling.individuals)
        created = finished  # candidates made so far (those running when a driver died are made anew)
        seeds = self.breeder.seeded()
        running: dict[int, Candidate] = {}
        while finished < target:
            out_of_time = budget.before_evaluation(finished, self.evaluator.slots)
            while not out_of_time and len(running) < self.evaluator.slots and created < target:
                candidate = self._next(created, seeds)
                created += 1
                h = candidate.genome.hash
                known = self.state.reusable(h)
                if known is not None:  # bred again despite the novelty tries
                    filling = self._add(
                        run, filling, candidate, cached_copy(known, candidate.parents, candidate.operator)
                    )
                    finished += 1
                    continue
                running[self.evaluator.submit(EvalJob(candidate.genome, evaluation_seed(cfg.seed, h)))] = (
                    candidate
                )
                self.journal.candidate(filling.index, candidate)
            if not running:
                if out_of_time:
                    self.stop_reason = out_of_time
                    log.info("run %s: %s", run.name, out_of_time)
                break
            for ticket, result in self.evaluator.wait_any(TICK_SECONDS):
                candidate = running.pop(ticket)
                # the candidate, then its result, under the record they will be stored in
                self.journal.candidate(filling.index, candidate)
                self.journal.evaluation(filling.index, candidate.genome.hash, result)
                self.tracker.finished(result, new=True)
                filling = self._add(run, filling, candidate, record_of(candidate, result, self.objective))
                finished += 1
            self._show()
        if filling.individuals:  # a time budget ended the run inside a record: keep what finished
            self._store(run, filling)
        self._show(final=True)

    # -- pieces ----------------------------------------------------------------------------
    def _next(self, created: int, seeds: list[Candidate]) -> Candidate:
        """The ``created``-th candidate: seeds, then random ones up to a population, then children
        (or random ones for ``strategy = random``)."""
        rng = candidate_rng(self.config.seed, created)
        if created < len(seeds):
            return seeds[created]
        complete = [ind for ind in self.queue if ind.record.complete]
        known = self.state.known.keys()  # read only: no copy per candidate
        if created < self.config.population or self.config.strategy == "random" or not complete:
            operator = "init" if created < self.config.population else "random"
            drawn = self.breeder.random(rng, 1, known, operator=operator)
            return drawn[0] if drawn else self.breeder.child(complete or list(self.queue), rng)
        return self.breeder.novel_child(complete, rng, known)

    def _add(self, run: RunInfo, filling: _Record, candidate: Candidate, record: IndividualRecord) -> _Record:
        """A finished candidate joins the record being filled; a full record is stored and the
        next one begun (returned)."""
        filling.individuals.append(self._settle(candidate, record))
        if len(filling.individuals) < self.config.population:
            return filling
        self._store(run, filling)
        return self._start_record(filling.index + 1)

    def _settle(self, candidate: Candidate, record: IndividualRecord) -> IndividualRecord:
        """A finished candidate joins the run: known, offered as best, and (when it completed)
        appended to the queue, retiring the oldest beyond ``population``."""
        self.state.learn(record)
        if record.complete:
            self.queue.append(Individual(candidate.genome, record, False))
            while len(self.queue) > self.config.population:
                self.queue.popleft()
        return record

    def _journaled(self, filling: _Record) -> None:
        """The evaluations an earlier driver finished for the record being filled before it
        stopped, in the order they finished, settled again (the queue ages as it did)."""
        for candidate, result in journaled_candidates(self.journal.load(filling.index)):
            self.tracker.finished(result, new=False)
            filling.individuals.append(self._settle(candidate, record_of(candidate, result, self.objective)))

    def _store(self, run: RunInfo, filling: _Record) -> None:
        population = tuple(ind.hash for ind in self.queue)
        seconds = time.perf_counter() - filling.started
        record = GenerationRecord(filling.index, population, tuple(filling.individuals), seconds)
        self.storage.record_generation(run.id, record)
        self.state.rank_again([self.state.best] if self.state.best else [])
        self._show(final=True)

    def _start_record(self, index: int) -> _Record:
        size = self.config.population
        stored = self.tracker.generation_started(index, size, 0, size, self.evaluator.slots)
        self.storage.update_progress(self.journal.run_id, stored.to_json())
        return _Record(index)
