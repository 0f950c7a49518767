"""Steady-state evolution (``--mode steady-state``): regularised evolution with ageing, no barrier.

Every finished evaluation at once gives its worker the next child, so workers never wait for the
slowest evaluation of a generation. The population is the ``population`` newest complete
individuals: each new one retires the oldest (ageing, Real et al. 2019). A child is bred from a
tournament among them (crossover and/or mutation as in the generational loop); the first
``population`` candidates are the seed genomes and random ones. Failed evaluations never join the
population.

Storage: each finished evaluation is journaled at once, with its candidate (genome, parents,
operator), and every ``population`` finished evaluations are stored as one record of the run's
generations table (its individuals in the order they finished, its population the ageing queue
at that point). A driver killed at any moment loses only the evaluations running then; ``nas
resume`` rebuilds the queue from the stored records and the journal and goes on. Results arrive in
the order workers finish, so two runs with one seed differ: this mode is resumable, not
bit-reproducible (the generational mode is).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

from evonas import ranking
from evonas.genomes import Genome
from evonas.nas.evolution import NOVELTY_TRIES, Candidate, Search, _cached, _hms, _record, evaluation_seed
from evonas.nas.selection import Individual
from evonas.nas.tracking import Tracker
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo
from evonas.storage.records import JOURNAL_CANDIDATE as CANDIDATE
from evonas.values import EvalResult
from evonas.workers.jobs import EvalJob

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # the longest wait for a result before the display is refreshed


def candidate_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of the run's ``index``-th candidate."""
    return np.random.default_rng([seed, 0x57EAD7, index])


class SteadyStateSearch(Search):
    """Regularised evolution on the same evaluator, storage and variation as :class:`Search`."""

    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        cfg = self.config
        target = (cfg.generations + 1) * cfg.population  # evaluations in all, as the generational mode
        self._run_id = run.id
        self.tracker = Tracker(run.name, cfg.generations, cfg.population, cfg.time_budget)
        self._queue: deque[Individual] = deque(self.restore(history))
        self._index = len(history)  # the record being filled
        self._chunk_started()
        self._chunk = self._journaled()
        finished = self._index * cfg.population + len(self._chunk)
        created = finished  # candidates made so far (those running when a driver died are made anew)
        seeds = self.seeded()
        running: dict[int, Candidate] = {}
        started = time.perf_counter()
        while finished < target:
            out_of_time = self._out_of_time_now(started, finished)
            while not out_of_time and len(running) < self.evaluator.slots and created < target:
                candidate = self._next(created, seeds)
                created += 1
                h = candidate.genome.hash
                known = self.known.get(h)
                if known is not None and known.reusable:  # bred again despite the novelty tries
                    self._add(run, candidate, _cached(candidate, known))
                    finished += 1
                    continue
                job = EvalJob(candidate.genome, evaluation_seed(cfg.seed, h))
                running[self.evaluator.submit(job)] = candidate
                self.storage.journal_evaluation(
                    run.id, self._index, h + CANDIDATE, _candidate_json(candidate)
                )
            if not running:
                if out_of_time:
                    self.stop_reason = out_of_time
                    log.info("run %s: %s", run.name, out_of_time)
                break
            for ticket, result in self.evaluator.wait_any(TICK_SECONDS):
                candidate = running.pop(ticket)
                h = candidate.genome.hash
                # the candidate, then its result, under the record they will be stored in
                self.storage.journal_evaluation(
                    run.id, self._index, h + CANDIDATE, _candidate_json(candidate)
                )
                self.storage.journal_evaluation(
                    run.id, self._index, h, result.model_dump_json(exclude={"weights"})
                )
                if self.weights is not None and result.status == EvalStatus.OK:
                    self.weights.offer(h, result.metrics.objective, result.weights)
                self.tracker.finished(result, new=True)
                self._add(run, candidate, _record(candidate, result))
                finished += 1
            self._show()
        if self._chunk:  # a time budget ended the run inside a record: keep what finished
            self._store(run)
        self._show(final=True)

    def _add(self, run: RunInfo, candidate: Candidate, record: IndividualRecord) -> None:
        """A finished candidate joins the record being filled; a full record is stored."""
        self._chunk.append(self._settle(candidate, record))
        if len(self._chunk) == self.config.population:
            self._store(run)
            self._index += 1
            self._chunk = []
            self._chunk_started()

    # -- pieces ----------------------------------------------------------------------------
    def _next(self, created: int, seeds: list[Candidate]) -> Candidate:
        """The ``created``-th candidate: seeds, then random ones up to a population, then children
        (or random ones for ``strategy = random``)."""
        rng = candidate_rng(self.config.seed, created)
        if created < len(seeds):
            return seeds[created]
        complete = [ind for ind in self._queue if ind.record.complete]
        if created < self.config.population or self.config.strategy == "random" or not complete:
            operator = "init" if created < self.config.population else "random"
            drawn = self.initial(rng, 1, operator=operator)
            return drawn[0] if drawn else self._vary(complete or list(self._queue), rng)
        for _ in range(NOVELTY_TRIES):
            child = self._vary(complete, rng)
            if child.genome.hash not in self.known:
                break
        return child

    def _settle(self, candidate: Candidate, record: IndividualRecord) -> IndividualRecord:
        """A finished candidate joins the run: known, offered as best, and (when it completed)
        appended to the queue, retiring the oldest beyond ``population``."""
        if record.status != EvalStatus.CACHED:
            self.known[record.hash] = record
        self._offer_best(record)
        if record.complete:
            self._queue.append(Individual(candidate.genome, record, False))
            while len(self._queue) > self.config.population:
                self._queue.popleft()
        return record

    def _journaled(self) -> list[IndividualRecord]:
        """The evaluations an earlier driver finished for record ``index`` before it stopped, in the
        order they finished, settled again (the queue ages as it did)."""
        journal = self.storage.load_journal(self._run_id, self._index)
        chunk = []
        for key, payload in journal.items():
            if key.endswith(CANDIDATE) or key + CANDIDATE not in journal:
                continue
            candidate = _candidate_from_json(journal[key + CANDIDATE])
            result = EvalResult.model_validate_json(payload)
            self.tracker.finished(result, new=False)
            chunk.append(self._settle(candidate, _record(candidate, result)))
        return chunk

    def _store(self, run: RunInfo) -> None:
        population = tuple(ind.hash for ind in self._queue)
        seconds = time.perf_counter() - self._chunk_time
        record = GenerationRecord(self._index, population, tuple(self._chunk), seconds)
        self.storage.record_generation(run.id, record)
        self.best = ranking.best([*self.known.values(), *([self.best] if self.best else [])])
        self._show(final=True)

    def _chunk_started(self) -> None:
        size = self.config.population
        self._chunk_time = time.perf_counter()
        stored = self.tracker.generation_started(self._index, size, 0, size, self.evaluator.slots)
        self.storage.update_progress(self._run_id, stored.to_json())

    def _out_of_time_now(self, started: float, finished: int) -> str | None:
        """Why no new evaluation may start: one more, at the mean time of those so far per slot,
        would overrun the time budget."""
        budget = self.config.time_budget
        if budget is None:
            return None
        elapsed = time.perf_counter() - started
        per_slot = elapsed / max(1, finished) * self.evaluator.slots if finished else 0.0
        if elapsed + per_slot <= budget:
            return None
        return (
            f"time budget of {_hms(budget)} spent: {_hms(elapsed)} used, and another evaluation "
            f"would take about {_hms(per_slot)}"
        )


def _candidate_json(c: Candidate) -> str:
    return json.dumps(
        {"genome": c.genome.canonical_json(), "parents": list(c.parents), "operator": c.operator}
    )


def _candidate_from_json(text: str) -> Candidate:
    d = json.loads(text)
    return Candidate(Genome.from_json(d["genome"]), tuple(d["parents"]), d["operator"])
