"""The generational loop: generation 0 at random, then offspring, evaluation and survivor selection.

Determinism: generation ``g`` draws from ``generation_rng(seed, g)`` and a genome is evaluated
with a seed derived from (run seed, genome hash) (:mod:`evonas.seeds`), so a generation depends
only on the run's seed and the stored population before it. Each completed generation is stored
in one transaction; its evaluations are journaled as they finish (:mod:`evonas.nas.journal`).
Breeding, the records, the time budget and the run's state are shared with the steady-state loop
(:mod:`evonas.nas.steady`), its sibling.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from evonas.nas.breeding import Candidate
from evonas.nas.core import Evaluator, Loop, Progress
from evonas.nas.journal import journaled_result, journaled_second_seeds
from evonas.nas.outcomes import cached_copy, merge_second, record_of
from evonas.nas.pruning import thresholds
from evonas.nas.second_seeds import SecondSeeds, second_job, to_reevaluate
from evonas.nas.selection import Individual, select_survivors
from evonas.nas.timebudget import TimeBudget
from evonas.seeds import evaluation_seed, generation_rng
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo
from evonas.values import EvalResult, Rung
from evonas.workers.jobs import EvalJob

log = logging.getLogger(__name__)

__all__ = ["Candidate", "Evaluator", "Progress", "Search"]


class Search(Loop):
    """One run of the generational genetic algorithm against a storage and an evaluator."""

    # -- the loop ------------------------------------------------------------------------
    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        """Evolve generations up to config.generations, storing each as it completes.

        ``history`` is the run's stored generations: the loop goes on after the last one
        exactly as if it had never stopped, since a generation depends only on the seed and
        what is stored before it.
        """
        cfg = self.config
        self._begin(run, cfg.n_offspring + cfg.reevaluate)
        budget = TimeBudget(cfg.time_budget, self.tracker.started)
        multi = cfg.selection == "nsga2"
        population = self.state.restore(history, multi)
        durations = [g.seconds for g in history[-1:]]  # what the next generation will take, roughly
        for index in range(len(history), cfg.generations + 1):
            if (reason := budget.before_generation(durations)) is not None:
                self.stop_reason = reason
                log.info("run %s: %s", run.name, reason)
                break
            start = time.perf_counter()
            rng = generation_rng(cfg.seed, index)
            candidates = self.candidates(index, population, rng)
            bars = thresholds([ind.record for ind in population], cfg.pruning, self.rung_epochs)
            records, second = self.evaluate(index, candidates, prune_below=bars)
            records = self.reevaluate(index, records, second)
            offspring = [Individual(c.genome, r, multi) for c, r in zip(candidates, records, strict=True)]
            population = select_survivors(
                population + offspring, cfg.population, cfg.selection, rng, cfg.tournament_size, cfg.elites
            )
            seconds = time.perf_counter() - start
            durations.append(seconds)
            self.storage.record_generation(
                run.id,
                GenerationRecord(index, tuple(ind.hash for ind in population), tuple(records), seconds),
            )
            self._show(final=True)

    def candidates(
        self, index: int, population: Sequence[Individual], rng: np.random.Generator
    ) -> list[Candidate]:
        """Generation ``index``'s candidates: the seeds and random genomes for generation 0, then
        children of the population (random genomes for ``strategy = random``)."""
        cfg, known = self.config, self.state.known
        if index == 0:
            seeds = self.breeder.seeded()
            taken = set(known) | {c.genome.hash for c in seeds}
            return seeds + self.breeder.random(rng, cfg.population - len(seeds), taken)
        if cfg.strategy == "random":
            return self.breeder.random(rng, cfg.n_offspring, known.keys(), operator="random")
        return self.breeder.offspring(population, rng, cfg.n_offspring, known.keys())

    def evaluate(
        self, index: int, candidates: Sequence[Candidate], prune_below: Mapping[int, float] | None = None
    ) -> tuple[list[IndividualRecord], SecondSeeds]:
        """Evaluate candidates whose genome has no reusable evaluation in this run yet.

        Each finished evaluation is journaled as it arrives, and evaluations journaled by an
        earlier attempt at this generation (a crash) are taken, not re-run. With pruning
        checkpoints, evaluations scoring below ``prune_below[epoch]`` at a rung stop there.
        Returns the candidates' records and the generation's second seeds started so far.
        """
        bars = prune_below or {}
        rungs = tuple(Rung(epoch=e, prune_below=bars.get(e)) for e in self.rung_epochs)
        jobs: dict[str, EvalJob] = {}
        for c in candidates:
            h = c.genome.hash
            if h not in jobs and self.state.reusable(h) is None:
                jobs[h] = EvalJob(c.genome, evaluation_seed(self.config.seed, h), rungs)
        if self.reuse and jobs:  # evaluations stored by other runs under the same dataset and budget
            for h, rec in self.storage.find_evaluations(self.eval_key, list(jobs)).items():
                self.state.known[h] = rec
                del jobs[h]
        stored = self.tracker.generation_started(
            index, len(candidates), len(candidates) - len(jobs), len(jobs), self.evaluator.slots
        )
        self.storage.update_progress(self.journal.run_id, stored.to_json())
        journal = self.journal.load(index) if jobs else {}
        second = SecondSeeds(
            self.config.reevaluate,
            self.config.seed,
            candidates,
            self.objective,
            journaled_second_seeds(journal),
        )
        results = self._run_jobs(index, list(jobs.values()), journal, second if second.count else None)

        records = []
        for c in candidates:
            h = c.genome.hash
            if h in results:
                record = record_of(c, results.pop(h), self.objective)
            else:
                record = cached_copy(self.state.known[h], c.parents, c.operator)
            self.state.learn(record)
            records.append(record)
        return records, second

    def _run_jobs(
        self,
        index: int,
        jobs: list[EvalJob],
        journal: Mapping[str, str] | None = None,
        second: SecondSeeds | None = None,
        *,
        seconds_only: bool = False,
    ) -> dict[str, EvalResult]:
        """Results by hash: journaled ones (an earlier attempt at this generation; ``journal``
        when the caller has read it already) and new ones, journaled as they arrive. The jobs are
        first evaluations, or second seeds with ``seconds_only``. With ``second``, second seeds
        certain to be needed start within the batch (their results go to ``second.results``)."""
        results: dict[str, EvalResult] = {}
        if jobs:
            journal = self.journal.load(index) if journal is None else journal
            for job in jobs:
                result = journaled_result(journal, job.genome.hash, second=seconds_only)
                if result is not None:
                    results[job.genome.hash] = result
        todo = [job for job in jobs if job.genome.hash not in results]
        for result in results.values():  # journaled by an earlier attempt: done already
            self.tracker.finished(result, new=False)
        second_jobs: list[EvalJob] = []  # second seeds started within this batch

        def on_result(i: int, result: EvalResult) -> None:
            first = i < len(todo)
            h = todo[i].genome.hash if first else second_jobs[i - len(todo)].genome.hash
            self.journal.evaluation(index, h, result, second=seconds_only or not first)
            if first:
                results[h] = result
            elif second is not None:
                second.results[h] = result
            self.tracker.finished(result, new=True)
            self._show()

        def follow_up(remaining: int) -> list[EvalJob]:
            extra = second.early(results, remaining) if second is not None else []
            if extra:
                second_jobs.extend(extra)
                stored = self.tracker.more_evaluations(len(extra))
                self.storage.update_progress(self.journal.run_id, stored.to_json())
            return extra

        self._show()
        if todo:
            self.evaluator.evaluate(todo, on_result, self._show, follow_up if second is not None else None)
        return results

    def reevaluate(
        self, index: int, records: list[IndividualRecord], second: SecondSeeds
    ) -> list[IndividualRecord]:
        """Evaluate the ``config.reevaluate`` best new candidates of the generation again with a
        second seed (full budget, never pruned); their metrics become the mean of both and both
        evaluations are kept in ``evaluations``. Seed-to-seed noise (0.01-0.03 ACC) is as large
        as the gaps between typical candidates: a lucky draw is not trusted on its own. Second
        seeds that started early (``second``) are taken, not run again."""
        best = to_reevaluate(records, self.config.reevaluate)
        if not best:
            return records
        results = {r.hash: second.results[r.hash] for r in best if r.hash in second.results}
        jobs = [second_job(self.config.seed, r) for r in best if r.hash not in results]
        if jobs:
            self.storage.update_progress(
                self.journal.run_id, self.tracker.more_evaluations(len(jobs)).to_json()
            )
            results |= self._run_jobs(index, jobs, seconds_only=True)
        merged = {r.hash: merge_second(r, results[r.hash]) for r in best}
        for rec in merged.values():
            self.state.known[rec.hash] = rec
        out = [
            r if r.hash not in merged
            else merged[r.hash] if r.status == EvalStatus.OK
            else cached_copy(merged[r.hash], r.parents, r.operator)  # a second candidate of the genome
            for r in records
        ]  # fmt: skip
        self.state.rank_again()
        return out
