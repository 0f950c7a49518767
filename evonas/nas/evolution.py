"""The evolution loop: generation 0 at random, then offspring, evaluation and survivor selection.

Determinism: generation ``g`` draws from ``numpy.random.default_rng([seed, g])`` and a
genome is evaluated with a seed derived from (run seed, genome hash), so a generation
depends only on the run's seed and the stored population before it. Each completed
generation is stored in one transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from evonas import ranking
from evonas.errors import INFRASTRUCTURE
from evonas.genomes import Genome, Recipe, SearchSpace, crossover, mutate, random_genome, validate_genome
from evonas.genomes.references import seed_genome
from evonas.metrics import AVERAGED, Metrics
from evonas.nas.config import RunConfig
from evonas.nas.pruning import thresholds
from evonas.nas.selection import Individual, select_survivors, tournament
from evonas.nas.tracking import Tracker
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.storage.weights import WeightStore
from evonas.values import EvalResult, Rung
from evonas.views.progress import RunProgress
from evonas.workers.jobs import EvalJob, FollowUp

log = logging.getLogger(__name__)

NOVELTY_TRIES = 10


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


@dataclass(frozen=True)
class Candidate:
    genome: Genome
    parents: tuple[str, ...]
    operator: str


def generation_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of generation ``index`` of a run with root ``seed``."""
    return np.random.default_rng([seed, index])


def evaluation_seed(seed: int, genome_hash: str, replicate: int = 0) -> int:
    """The training seed of a genome in a run: the same genome always gets the same seed
    (``replicate`` 1 is the seed of its second evaluation)."""
    key = f"{seed}:{genome_hash}" + (f":{replicate}" if replicate else "")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


REPLICATE = "/2"  # journal key suffix of a second evaluation


class Search:
    """One run of the genetic algorithm against a storage and an evaluator."""

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
        self.rung_epochs = tuple(rung_epochs)  # pruning checkpoints (empty: no pruning)
        self.weights = weights
        self.eval_key = eval_key
        self.reuse = reuse
        self.space = space
        self.input_shape = input_shape
        self.storage = storage
        self.evaluator = evaluator
        self.progress = progress
        self.known: dict[str, IndividualRecord] = {}  # hash -> the evaluation its metrics come from
        self.best: IndividualRecord | None = None
        self.tracker = Tracker("", config.generations, config.n_offspring + config.reevaluate)
        self._run_id = -1
        self._second: dict[str, EvalResult] = {}  # second seeds finished early in this generation
        self.stop_reason: str | None = None  # why the loop stopped before config.generations

    # -- the loop ------------------------------------------------------------------------
    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        """Evolve generations up to config.generations, storing each as it completes.

        ``history`` is the run's stored generations: the loop goes on after the last one
        exactly as if it had never stopped, since a generation depends only on the seed and
        what is stored before it.
        """
        self._run_id = run.id
        self.tracker = Tracker(
            run.name,
            self.config.generations,
            self.config.n_offspring + self.config.reevaluate,
            self.config.time_budget,
        )
        population = self.restore(history)
        durations = [g.seconds for g in history[-1:]]  # what the next generation will take, roughly
        for index in range(len(history), self.config.generations + 1):
            if (reason := self._out_of_time(durations)) is not None:
                self.stop_reason = reason
                log.info("run %s: %s", run.name, reason)
                break
            start = time.perf_counter()
            rng = generation_rng(self.config.seed, index)
            if index == 0:
                seeds = self.seeded()
                fill = self.config.population - len(seeds)
                candidates = seeds + self.initial(rng, fill, exclude={c.genome.hash for c in seeds})
            elif self.config.strategy == "random":
                candidates = self.initial(rng, self.config.n_offspring, operator="random")
            else:
                candidates = self.offspring(population, rng)
            bars = thresholds([ind.record for ind in population], self.config.pruning, self.rung_epochs)
            records = self.evaluate(index, candidates, prune_below=bars)
            records = self.reevaluate(index, records)
            offspring = [
                Individual(c.genome, r, self._multi) for c, r in zip(candidates, records, strict=True)
            ]
            population = select_survivors(
                population + offspring, self.config.population, self.config.selection, rng,
                self.config.tournament_size, self.config.elites,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            durations.append(seconds)
            self.storage.record_generation(
                run.id,
                GenerationRecord(index, tuple(ind.hash for ind in population), tuple(records), seconds),
            )
            self._show(final=True)

    def _out_of_time(self, durations: Sequence[float]) -> str | None:
        """Why no further generation may start (the time budget would be overrun), or None.
        The next generation is expected to take as long as the longest of the last three."""
        budget = self.config.time_budget
        if budget is None:
            return None
        elapsed = time.perf_counter() - self.tracker.started
        expected = max(durations[-3:], default=0.0)
        if elapsed + expected <= budget:
            return None
        return (
            f"time budget of {_hms(budget)} spent: {_hms(elapsed)} used, and the next generation "
            f"would take about {_hms(expected)}"
        )

    def restore(self, history: Sequence[GenerationRecord]) -> list[Individual]:
        """Rebuild the loop's state (known evaluations, best, population) from stored generations."""
        for gen in history:
            for rec in gen.individuals:
                # as in evaluate(): the latest own evaluation, else the copy of another run's
                if rec.status != EvalStatus.CACHED or rec.hash not in self.known:
                    self.known[rec.hash] = rec
                self._offer_best(rec)
        if not history:
            return []
        return [
            Individual(Genome.from_json(self.known[h].genome), self.known[h], self._multi)
            for h in history[-1].population
        ]

    @property
    def _multi(self) -> bool:
        return self.config.selection == "nsga2"

    def initial(
        self,
        rng: np.random.Generator,
        count: int | None = None,
        operator: str = "init",
        exclude: AbstractSet[str] = frozenset(),
    ) -> list[Candidate]:
        """``count`` (default: population) random valid genomes, distinct, new to this run and not
        in ``exclude`` (as far as the space allows)."""
        count = self.config.population if count is None else count
        genomes: dict[str, Genome] = {}
        taken = set(self.known).union(exclude)
        for _ in range(count * 20):
            g = random_genome(self.space, self.input_shape, rng)
            if g.hash not in taken:
                genomes.setdefault(g.hash, g)
            if len(genomes) == count:
                break
        return [Candidate(g, (), operator) for g in genomes.values()]

    def seeded(self) -> list[Candidate]:
        """The genomes the user put into generation 0 (``config.seed_genomes``), distinct, at most
        a population's worth; one without a recipe gets the default recipe when recipes evolve."""
        out: dict[str, Candidate] = {}
        for text in self.config.seed_genomes[: self.config.population]:
            genome = seed_genome(text)
            if genome.recipe is None and self.space.recipes:
                genome = Genome.of(genome.genes, Recipe(lr=self.config.budget.lr))
            validate_genome(genome, self.input_shape)  # valid for the images; ranges do not apply
            out.setdefault(genome.hash, Candidate(genome, (), "seed"))
        return list(out.values())

    def offspring(self, population: Sequence[Individual], rng: np.random.Generator) -> list[Candidate]:
        """Offspring Q(t): tournament parents, crossover and/or mutation.

        A child whose genome this run has already evaluated is redrawn (up to
        ``NOVELTY_TRIES`` times) so offspring slots go to new architectures; past that it
        is kept and recorded as cached.
        """
        out: list[Candidate] = []
        seen = set(self.known)
        for _ in range(self.config.n_offspring):
            for _ in range(NOVELTY_TRIES):
                child = self._vary(population, rng)
                if child.genome.hash not in seen:
                    break
            seen.add(child.genome.hash)
            out.append(child)
        return out

    def _vary(self, population: Sequence[Individual], rng: np.random.Generator) -> Candidate:
        cfg = self.config
        parents: tuple[str, ...]
        if len(population) >= 2 and rng.random() < cfg.crossover_prob:
            a, b = tournament(population, 2, cfg.tournament_size, rng)
            child = crossover(a.genome, b.genome, self.space, self.input_shape, rng)[0]
            parents, ops = (a.hash, b.hash), ["crossover"]
        else:
            (a,) = tournament(population, 1, cfg.tournament_size, rng)
            child, parents, ops = a.genome, (a.hash,), []
        if rng.random() < cfg.mutation_prob or child.hash in parents:
            child, op = mutate(child, self.space, self.input_shape, rng)
            ops.append(f"mutate:{op}")
        return Candidate(child, parents, "+".join(ops))

    def _offer_best(self, rec: IndividualRecord) -> None:
        if ranking.better(rec, self.best):
            self.best = rec

    def evaluate(
        self, index: int, candidates: Sequence[Candidate], prune_below: Mapping[int, float] | None = None
    ) -> list[IndividualRecord]:
        """Evaluate candidates whose genome has no reusable evaluation in this run yet.

        Each finished evaluation is journaled as it arrives, and evaluations journaled by an
        earlier attempt at this generation (a crash) are taken, not re-run. With a pruning
        checkpoints, evaluations scoring below ``prune_below[epoch]`` at a rung stop there.
        """
        bars = prune_below or {}
        rungs = tuple(Rung(epoch=e, prune_below=bars.get(e)) for e in self.rung_epochs)
        jobs: dict[str, EvalJob] = {}
        for c in candidates:
            h = c.genome.hash
            if h not in jobs and not (h in self.known and self.known[h].reusable):
                jobs[h] = EvalJob(c.genome, evaluation_seed(self.config.seed, h), rungs)
        if self.reuse and jobs:  # evaluations stored by other runs under the same dataset and budget
            for h, rec in self.storage.find_evaluations(self.eval_key, list(jobs)).items():
                self.known[h] = rec
                del jobs[h]
        stored = self.tracker.generation_started(
            index, len(candidates), len(candidates) - len(jobs), len(jobs), self.evaluator.slots
        )
        self.storage.update_progress(self._run_id, stored.to_json())
        journal = self.storage.load_journal(self._run_id, index) if jobs else {}
        early = self._early_second_seeds(candidates, journal)
        results = self._run_jobs(index, list(jobs.values()), early=early, journal=journal)

        records = []
        for c in candidates:
            h = c.genome.hash
            if h in results:
                record = _record(c, results.pop(h))
                self.known[h] = record
            else:
                record = _cached(c, self.known[h])
            records.append(record)
            self._offer_best(record)
        return records

    def _run_jobs(
        self,
        index: int,
        jobs: list[EvalJob],
        suffix: str = "",
        early: Callable[[Mapping[str, EvalResult], int], list[EvalJob]] | None = None,
        journal: Mapping[str, str] | None = None,
    ) -> dict[str, EvalResult]:
        """Results by hash: journaled ones (an earlier attempt at this generation; ``journal``
        when the caller has read it already) and new ones, journaled as they arrive under
        ``hash + suffix``. ``early(results so far, jobs left)`` may start second seeds within the
        batch (kept in ``self._second``, journaled under ``hash + REPLICATE``)."""
        results: dict[str, EvalResult] = {}
        if jobs:
            if journal is None:
                journal = self.storage.load_journal(self._run_id, index)
            for job in jobs:
                payload = journal.get(job.genome.hash + suffix)
                if payload is not None:
                    results[job.genome.hash] = EvalResult.model_validate_json(payload)
        todo = [job for job in jobs if job.genome.hash not in results]
        for result in results.values():  # journaled by an earlier attempt: done already
            self.tracker.finished(result, new=False)
        second_jobs: list[EvalJob] = []  # second seeds started within this batch

        def on_result(i: int, result: EvalResult) -> None:
            first = i < len(todo)
            h = todo[i].genome.hash if first else second_jobs[i - len(todo)].genome.hash
            payload = result.model_dump_json(exclude={"weights"})
            key = h + (suffix if first else REPLICATE)
            self.storage.journal_evaluation(self._run_id, index, key, payload)
            if first:
                results[h] = result
                if self.weights is not None and not suffix and result.status == EvalStatus.OK:
                    self.weights.offer(h, result.metrics.objective, result.weights)
            else:
                self._second[h] = result
            self.tracker.finished(result, new=True)
            self._show()

        def follow_up(remaining: int) -> list[EvalJob]:
            extra = early(results, remaining) if early is not None else []
            if extra:
                second_jobs.extend(extra)
                stored = self.tracker.more_evaluations(len(extra))
                self.storage.update_progress(self._run_id, stored.to_json())
            return extra

        self._show()
        if todo:
            self.evaluator.evaluate(todo, on_result, self._show, follow_up if early is not None else None)
        return results

    def _early_second_seeds(
        self, candidates: Sequence[Candidate], journal: Mapping[str, str]
    ) -> Callable[[Mapping[str, EvalResult], int], list[EvalJob]] | None:
        """Second seeds that may start while the generation's last evaluations still run (a
        slot the barrier would leave idle): a finished candidate ranked ``p``-th among those
        finished, with ``r`` still running, is certain to be among the ``reevaluate`` best once
        all are in when ``p + r <= reevaluate`` (the ``r`` can only rank above it). Only such
        certain ones start, so the generation's outcome is exactly what it would be without
        them: nothing is speculative, nothing wasted. ``journal``: the generation's, from an
        earlier attempt (second seeds it holds are not started again)."""
        k = self.config.reevaluate
        self._second = {}
        if k == 0:
            return None
        started = {key[: -len(REPLICATE)] for key in journal if key.endswith(REPLICATE)}
        order = list(dict.fromkeys(c.genome.hash for c in candidates))
        by_hash = {c.genome.hash: c for c in reversed(candidates)}  # the first candidate of each hash

        def early(results: Mapping[str, EvalResult], remaining: int) -> list[EvalJob]:
            if remaining >= k:
                return []
            done = [_record(by_hash[h], results[h]) for h in order if h in results]
            certain = ranking.ranked(r for r in done if r.status == EvalStatus.OK)[: k - remaining]
            jobs = [
                EvalJob(Genome.from_json(r.genome), evaluation_seed(self.config.seed, r.hash, 1))
                for r in certain
                if r.hash not in started
            ]
            started.update(job.genome.hash for job in jobs)
            return jobs

        return early

    def reevaluate(self, index: int, records: list[IndividualRecord]) -> list[IndividualRecord]:
        """Evaluate the ``config.reevaluate`` best new candidates of the generation again with a
        second seed (full budget, never pruned); their metrics become the mean of both and both
        evaluations are kept in ``evaluations``. Seed-to-seed noise (0.01-0.03 ACC) is as large
        as the gaps between typical candidates: a lucky draw is not trusted on its own. Second
        seeds that started early (:meth:`_early_second_seeds`) are taken, not run again."""
        fresh = [r for r in records if r.status == EvalStatus.OK and not r.evaluations]
        best = ranking.ranked(fresh)[: self.config.reevaluate]
        if not best:
            return records
        results = {r.hash: self._second[r.hash] for r in best if r.hash in self._second}
        jobs = [
            EvalJob(Genome.from_json(r.genome), evaluation_seed(self.config.seed, r.hash, 1))
            for r in best
            if r.hash not in results
        ]
        if jobs:
            self.storage.update_progress(self._run_id, self.tracker.more_evaluations(len(jobs)).to_json())
            results |= self._run_jobs(index, jobs, REPLICATE)
        self._second = {}
        merged = {r.hash: _merge(r, results[r.hash]) for r in best}
        for rec in merged.values():
            self.known[rec.hash] = rec
        out = [
            r if r.hash not in merged
            else merged[r.hash] if r.status == EvalStatus.OK
            else replace(merged[r.hash], status=EvalStatus.CACHED, parents=r.parents, operator=r.operator,
                         seconds=0.0, node=None, device=None)
            for r in records
        ]  # fmt: skip
        self.best = ranking.best(self.known.values())  # re-evaluated scores moved: rank again
        return out

    # -- progress ------------------------------------------------------------------------
    def snapshot(self) -> RunProgress | None:
        """The figures of the generation in flight (or the last one)."""
        return self.tracker.snapshot(self.best.score if self.best else None)

    def _show(self, final: bool = False) -> None:
        if self.progress is None:
            return
        snapshot = self.snapshot()
        if snapshot is not None:
            if not final:
                snapshot = dataclasses.replace(snapshot, epochs=tuple(self.evaluator.in_flight()))
            self.progress.update(snapshot, final=final)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _record(c: Candidate, r: EvalResult) -> IndividualRecord:
    return IndividualRecord(
        hash=c.genome.hash, genome=c.genome.canonical_json(), parents=c.parents, operator=c.operator,
        status=EvalStatus(r.status), seed=r.seed, metrics=r.metrics, seconds=r.seconds, error=r.error,
        node=r.node, device=r.device, rung_acc=r.rung_acc, rung_scores=r.rung_scores,
        pruned_at=r.pruned_at, head_seconds=r.head_seconds,
    )  # fmt: skip


def _evaluation(seed: int, metrics: Metrics, seconds: float) -> dict[str, Any]:
    """One seed's figures as ``evaluations`` stores them."""
    values = metrics.to_json()
    return {"seed": seed, **{k: values[k] for k in AVERAGED}, "seconds": round(seconds, 3)}


def _merge(first: IndividualRecord, second: EvalResult) -> IndividualRecord:
    """The record of a genome evaluated twice: each evaluation kept, metrics their mean.
    A second evaluation that failed fails the genome (it did not reproduce), unless the
    infrastructure made it fail: then the first evaluation stands alone."""
    one = _evaluation(first.seed, first.metrics, first.seconds)
    two = _evaluation(second.seed, second.metrics, second.seconds)
    head = None if first.head_seconds is None or second.head_seconds is None else (
        first.head_seconds + second.head_seconds
    )  # fmt: skip
    if (second.error or "").startswith(INFRASTRUCTURE):
        return replace(first, evaluations=(one, {**two, "error": second.error}))
    if second.status != EvalStatus.OK:
        unscored = first.metrics.model_copy(
            update={"acc": None, "nmi": None, "ari": None, "silhouette": None}
        )
        return replace(
            first, status=EvalStatus.FAILED, metrics=unscored,
            error=f"second evaluation (seed {second.seed}) {second.status}: {second.error}",
            evaluations=(one, two), seconds=first.seconds + second.seconds, head_seconds=head,
        )  # fmt: skip
    return replace(
        first, metrics=first.metrics.mean(second.metrics), evaluations=(one, two),
        seconds=first.seconds + second.seconds, head_seconds=head,
    )  # fmt: skip


def _cached(c: Candidate, known: IndividualRecord) -> IndividualRecord:
    """A candidate whose genome was evaluated before: its metrics, no training, status cached."""
    return replace(
        known, parents=c.parents, operator=c.operator, status=EvalStatus.CACHED, seconds=0.0,
        head_seconds=None, node=None, device=None,
    )  # fmt: skip
