"""The evolution loop: generation 0 at random, then offspring, evaluation and survivor selection.

Determinism: generation ``g`` draws from ``numpy.random.default_rng([seed, g])`` and a
genome is evaluated with a seed derived from (run seed, genome hash), so a generation
depends only on the run's seed and the stored population before it. Each completed
generation is stored in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from evonas.genomes import Genome, SearchSpace, crossover, mutate, random_genome
from evonas.nas.config import RunConfig
from evonas.nas.selection import Individual, select_survivors, tournament
from evonas.nas.status import RunProgress, estimate_left
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.storage.weights import WeightStore
from evonas.workers import EvalJob, EvalResult

log = logging.getLogger(__name__)

NOVELTY_TRIES = 10


class Evaluator(Protocol):
    """Evaluates genomes; results come back in job order."""

    @property
    def slots(self) -> int:
        """How many evaluations run at once."""
        ...

    def evaluate(
        self, jobs: Sequence[EvalJob], on_result: Callable[[int, EvalResult], None] | None = None
    ) -> list[EvalResult]: ...


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


def evaluation_seed(seed: int, genome_hash: str) -> int:
    """The training seed of a genome in a run: the same genome always gets the same seed."""
    digest = hashlib.sha256(f"{seed}:{genome_hash}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


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
    ) -> None:
        self.config = config
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
        self._run: RunInfo | None = None
        self._started = time.perf_counter()
        self._started_at = datetime.now(UTC).replace(tzinfo=None)
        self._evaluated = 0  # evaluations this driver has finished
        self._gen: dict[str, int] = {}  # figures of the generation in flight
        self._gen_best: float | None = None

    # -- the loop ------------------------------------------------------------------------
    def run(self, run: RunInfo, history: Sequence[GenerationRecord] = ()) -> None:
        """Evolve generations up to config.generations, storing each as it completes.

        ``history`` is the run's stored generations: the loop goes on after the last one
        exactly as if it had never stopped, since a generation depends only on the seed and
        what is stored before it.
        """
        self._run = run
        self._started = time.perf_counter()
        self._started_at = datetime.now(UTC).replace(tzinfo=None)
        population = self.restore(history)
        for index in range(len(history), self.config.generations + 1):
            start = time.perf_counter()
            rng = generation_rng(self.config.seed, index)
            candidates = self.initial(rng) if index == 0 else self.offspring(population, rng)
            records = self.evaluate(index, candidates, run.id)
            offspring = [
                Individual(c.genome, r, self._multi) for c, r in zip(candidates, records, strict=True)
            ]
            population = select_survivors(
                population + offspring, self.config.population, self.config.selection, rng,
                self.config.tournament_size, self.config.elites,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            self.storage.record_generation(
                run.id,
                GenerationRecord(index, tuple(ind.hash for ind in population), tuple(records), seconds),
            )
            self._show(final=True)

    def restore(self, history: Sequence[GenerationRecord]) -> list[Individual]:
        """Rebuild the loop's state (known evaluations, best, population) from stored generations."""
        for gen in history:
            for rec in gen.individuals:
                # as in evaluate(): the latest own evaluation, else the copy of another run's
                if rec.status != "cached" or rec.hash not in self.known:
                    self.known[rec.hash] = rec
                if rec.acc is not None and (self.best is None or rec.acc > (self.best.acc or -1)):
                    self.best = rec
        if not history:
            return []
        return [
            Individual(Genome.from_json(self.known[h].genome), self.known[h], self._multi)
            for h in history[-1].population
        ]

    @property
    def _multi(self) -> bool:
        return self.config.selection == "nsga2"

    def initial(self, rng: np.random.Generator) -> list[Candidate]:
        """A random valid population of distinct genomes (as distinct as the space allows)."""
        genomes: dict[str, Genome] = {}
        for _ in range(self.config.population * 20):
            g = random_genome(self.space, self.input_shape, rng)
            genomes.setdefault(g.hash, g)
            if len(genomes) == self.config.population:
                break
        return [Candidate(g, (), "init") for g in genomes.values()]

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

    def evaluate(
        self, index: int, candidates: Sequence[Candidate], run_id: int | None = None
    ) -> list[IndividualRecord]:
        """Evaluate candidates whose genome has no reusable evaluation in this run yet.

        With ``run_id``, each finished evaluation is journaled as it arrives, and evaluations
        journaled by an earlier attempt at this generation (a crash) are taken, not re-run.
        """
        jobs: dict[str, EvalJob] = {}
        for c in candidates:
            h = c.genome.hash
            if h not in jobs and not (h in self.known and self.known[h].reusable):
                jobs[h] = EvalJob(c.genome, evaluation_seed(self.config.seed, h))
        if self.reuse and jobs:  # evaluations stored by other runs under the same dataset and budget
            for h, rec in self.storage.find_evaluations(self.eval_key, list(jobs)).items():
                self.known[h] = rec
                del jobs[h]
        results: dict[str, EvalResult] = {}
        if run_id is not None and jobs:
            for h, payload in self.storage.load_journal(run_id, index).items():
                if h in jobs:
                    results[h] = EvalResult.model_validate_json(payload)
        todo = [job for h, job in jobs.items() if h not in results]
        # "to evaluate" counts the journaled evaluations too, as `nas status` reads the journal
        self._generation_started(index, run_id, len(candidates), len(candidates) - len(jobs), len(jobs))
        for result in results.values():  # journaled by an earlier attempt: done already
            self._count(result)

        def on_result(i: int, result: EvalResult) -> None:
            if run_id is not None:
                h = todo[i].genome.hash
                self.storage.journal_evaluation(run_id, index, h, result.model_dump_json(exclude={"weights"}))
                if self.weights is not None:
                    self.weights.offer(run_id, h, result.acc, result.weights)
            self._evaluated += 1
            self._count(result)
            self._show()

        self._show()
        for job, result in zip(todo, self.evaluator.evaluate(todo, on_result), strict=True):
            results[job.genome.hash] = result

        records = []
        for c in candidates:
            h = c.genome.hash
            if h in results:
                record = _record(c, results.pop(h))
                self.known[h] = record
            else:
                record = _cached(c, self.known[h])
            records.append(record)
            if record.acc is not None and (self.best is None or record.acc > (self.best.acc or -1)):
                self.best = record
        return records

    # -- progress ------------------------------------------------------------------------
    def _generation_started(
        self, index: int, run_id: int | None, total: int, cached: int, to_evaluate: int
    ) -> None:
        self._gen = {"index": index, "total": total, "cached": cached, "done": cached, "failed": 0,
                     "slots": self.evaluator.slots}  # fmt: skip
        self._gen_best = None
        if run_id is not None:
            self.storage.update_progress(run_id, {
                "generation": index, "total": total, "cached": cached, "to_evaluate": to_evaluate,
                "slots": self._gen["slots"], "run_started_at": self._started_at.isoformat(),
                "evaluated_before": self._evaluated,
            })  # fmt: skip

    def _count(self, result: EvalResult) -> None:
        """Add one finished evaluation to the figures of the generation in flight."""
        self._gen["done"] += 1
        self._gen["failed"] += result.status == "failed"
        if result.acc is not None:
            self._gen_best = result.acc if self._gen_best is None else max(self._gen_best, result.acc)

    def snapshot(self) -> RunProgress:
        """The figures of the generation in flight (or the last one)."""
        g = self._gen
        elapsed = time.perf_counter() - self._started
        left = g["total"] - g["done"]
        best = self.best.acc if self.best else None
        if self._gen_best is not None and (best is None or self._gen_best > best):
            best = self._gen_best
        return RunProgress(
            name=self._run.name if self._run else "", status="running", generation=g["index"],
            last=self.config.generations, done=g["done"], total=g["total"],
            running=min(g["slots"], left), failed=g["failed"], pruned=0, cached=g["cached"],
            best_acc=best, elapsed=elapsed,
            eta=estimate_left(self._evaluated, elapsed, left, self.config.generations - g["index"],
                              self.config.n_offspring),
        )  # fmt: skip

    def _show(self, final: bool = False) -> None:
        if self.progress is not None and self._gen:
            self.progress.update(self.snapshot(), final=final)


def _record(c: Candidate, r: EvalResult) -> IndividualRecord:
    return IndividualRecord(
        hash=c.genome.hash, genome=c.genome.canonical_json(), parents=c.parents, operator=c.operator,
        status=r.status, seed=r.seed, acc=r.acc, nmi=r.nmi, ari=r.ari, recon_loss=r.recon_loss,
        baseline_loss=r.baseline_loss, params=r.params, seconds=r.seconds, error=r.error,
        node=r.node, device=r.device,
    )  # fmt: skip


def _cached(c: Candidate, known: IndividualRecord) -> IndividualRecord:
    """A candidate whose genome was evaluated before: its metrics, no training, status cached."""
    return IndividualRecord(
        hash=known.hash, genome=known.genome, parents=c.parents, operator=c.operator,
        status="cached", seed=known.seed, acc=known.acc, nmi=known.nmi, ari=known.ari,
        recon_loss=known.recon_loss, baseline_loss=known.baseline_loss, params=known.params,
        seconds=0.0, error=known.error, node=None, device=None,
    )  # fmt: skip
