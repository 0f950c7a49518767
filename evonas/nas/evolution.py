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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from evonas.errors import INFRASTRUCTURE
from evonas.genomes import Genome, SearchSpace, crossover, mutate, random_genome
from evonas.nas.config import RunConfig
from evonas.nas.pruning import threshold
from evonas.nas.selection import Individual, select_survivors, tournament
from evonas.nas.status import RunProgress, estimate_left
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.storage.weights import WeightStore
from evonas.workers import EvalJob, EvalResult, Rung

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
        checkpoint_epoch: int | None = None,
    ) -> None:
        self.config = config
        self.checkpoint_epoch = checkpoint_epoch  # pruning checkpoint (None: no pruning)
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
        self._stored_progress: dict[str, Any] = {}

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
            if index == 0:
                candidates = self.initial(rng)
            elif self.config.strategy == "random":
                candidates = self.initial(rng, self.config.n_offspring, operator="random")
            else:
                candidates = self.offspring(population, rng)
            bar = threshold([ind.record for ind in population], self.config.pruning)
            records = self.evaluate(index, candidates, run.id, prune_below=bar)
            records = self.reevaluate(index, records, run.id)
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
        self, rng: np.random.Generator, count: int | None = None, operator: str = "init"
    ) -> list[Candidate]:
        """``count`` (default: population) random valid genomes, distinct and new to this run
        (as far as the space allows)."""
        count = count or self.config.population
        genomes: dict[str, Genome] = {}
        for _ in range(count * 20):
            g = random_genome(self.space, self.input_shape, rng)
            if g.hash not in self.known:
                genomes.setdefault(g.hash, g)
            if len(genomes) == count:
                break
        return [Candidate(g, (), operator) for g in genomes.values()]

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
        if rec.complete and (self.best is None or (rec.score or 0.0) > (self.best.score or -1.0)):
            self.best = rec

    def evaluate(
        self,
        index: int,
        candidates: Sequence[Candidate],
        run_id: int | None = None,
        prune_below: float | None = None,
    ) -> list[IndividualRecord]:
        """Evaluate candidates whose genome has no reusable evaluation in this run yet.

        With ``run_id``, each finished evaluation is journaled as it arrives, and evaluations
        journaled by an earlier attempt at this generation (a crash) are taken, not re-run.
        With a pruning checkpoint, evaluations scoring below ``prune_below`` there stop early.
        """
        rung = Rung(epoch=self.checkpoint_epoch, prune_below=prune_below) if self.checkpoint_epoch else None
        jobs: dict[str, EvalJob] = {}
        for c in candidates:
            h = c.genome.hash
            if h not in jobs and not (h in self.known and self.known[h].reusable):
                jobs[h] = EvalJob(c.genome, evaluation_seed(self.config.seed, h), rung)
        if self.reuse and jobs:  # evaluations stored by other runs under the same dataset and budget
            for h, rec in self.storage.find_evaluations(self.eval_key, list(jobs)).items():
                self.known[h] = rec
                del jobs[h]
        # "to evaluate" counts the journaled evaluations too, as `nas status` reads the journal
        self._generation_started(index, run_id, len(candidates), len(candidates) - len(jobs), len(jobs))
        results = self._run_jobs(index, list(jobs.values()), run_id)

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
        self, index: int, jobs: list[EvalJob], run_id: int | None, suffix: str = ""
    ) -> dict[str, EvalResult]:
        """Results by hash: journaled ones (an earlier attempt at this generation) and new ones,
        journaled as they arrive under ``hash + suffix``."""
        results: dict[str, EvalResult] = {}
        if run_id is not None and jobs:
            journal = self.storage.load_journal(run_id, index)
            for job in jobs:
                payload = journal.get(job.genome.hash + suffix)
                if payload is not None:
                    results[job.genome.hash] = EvalResult.model_validate_json(payload)
        todo = [job for job in jobs if job.genome.hash not in results]
        for result in results.values():  # journaled by an earlier attempt: done already
            self._count(result)

        def on_result(i: int, result: EvalResult) -> None:
            if run_id is not None:
                h = todo[i].genome.hash
                payload = result.model_dump_json(exclude={"weights"})
                self.storage.journal_evaluation(run_id, index, h + suffix, payload)
                if self.weights is not None and not suffix and result.status == "ok":
                    score = result.acc if result.acc is not None else result.silhouette
                    self.weights.offer(run_id, h, score, result.weights)
            self._evaluated += 1
            self._count(result)
            self._show()

        self._show()
        for job, result in zip(todo, self.evaluator.evaluate(todo, on_result), strict=True):
            results[job.genome.hash] = result
        return results

    def reevaluate(
        self, index: int, records: list[IndividualRecord], run_id: int | None = None
    ) -> list[IndividualRecord]:
        """Evaluate the ``config.reevaluate`` best new candidates of the generation again with a
        second seed (full budget, never pruned); their metrics become the mean of both and both
        evaluations are kept in ``evaluations``. Seed-to-seed noise (0.01-0.03 ACC) is as large
        as the gaps between typical candidates: a lucky draw is not trusted on its own."""
        fresh = [r for r in records if r.status == "ok" and r.complete and not r.evaluations]
        best = sorted(unique_records(fresh), key=lambda r: -(r.score or 0.0))[: self.config.reevaluate]
        if not best:
            return records
        jobs = [
            EvalJob(Genome.from_json(r.genome), evaluation_seed(self.config.seed, r.hash, 1)) for r in best
        ]
        self._gen["total"] += len(jobs)
        self._stored_progress["total"] = self._gen["total"]
        self._stored_progress["to_evaluate"] += len(jobs)
        if run_id is not None:
            self.storage.update_progress(run_id, self._stored_progress)
        results = self._run_jobs(index, jobs, run_id, REPLICATE)
        merged = {r.hash: _merge(r, results[r.hash]) for r in best}
        for rec in merged.values():
            self.known[rec.hash] = rec
            if self.best is not None and self.best.hash == rec.hash:
                self.best = None  # its score changed: find the best again
        out = [
            r if r.hash not in merged
            else merged[r.hash] if r.status == "ok"
            else replace(merged[r.hash], status="cached", parents=r.parents, operator=r.operator,
                         seconds=0.0, node=None, device=None)
            for r in records
        ]  # fmt: skip
        if self.best is None:
            for rec in self.known.values():
                self._offer_best(rec)
        return out

    # -- progress ------------------------------------------------------------------------
    def _generation_started(
        self, index: int, run_id: int | None, total: int, cached: int, to_evaluate: int
    ) -> None:
        self._gen = {"index": index, "total": total, "cached": cached, "done": cached, "failed": 0,
                     "slots": self.evaluator.slots}  # fmt: skip
        self._gen_best = None
        self._stored_progress = {
            "generation": index, "total": total, "cached": cached, "to_evaluate": to_evaluate,
            "slots": self._gen["slots"], "run_started_at": self._started_at.isoformat(),
            "evaluated_before": self._evaluated,
        }  # fmt: skip
        if run_id is not None:
            self.storage.update_progress(run_id, self._stored_progress)

    def _count(self, result: EvalResult) -> None:
        """Add one finished evaluation to the figures of the generation in flight."""
        self._gen["done"] += 1
        self._gen["failed"] += result.status == "failed"
        self._gen["pruned"] = self._gen.get("pruned", 0) + (result.status == "pruned")
        score = result.acc if result.acc is not None else result.silhouette
        if score is not None and result.status == "ok":
            self._gen_best = score if self._gen_best is None else max(self._gen_best, score)

    def snapshot(self) -> RunProgress:
        """The figures of the generation in flight (or the last one)."""
        g = self._gen
        elapsed = time.perf_counter() - self._started
        left = g["total"] - g["done"]
        best = self.best.score if self.best else None
        if self._gen_best is not None and (best is None or self._gen_best > best):
            best = self._gen_best
        return RunProgress(
            name=self._run.name if self._run else "", status="running", generation=g["index"],
            last=self.config.generations, done=g["done"], total=g["total"],
            running=min(g["slots"], left), failed=g["failed"], pruned=g.get("pruned", 0), cached=g["cached"],
            best_acc=best, elapsed=elapsed,
            eta=estimate_left(self._evaluated, elapsed, left, self.config.generations - g["index"],
                              self.config.n_offspring + self.config.reevaluate),
        )  # fmt: skip

    def _show(self, final: bool = False) -> None:
        if self.progress is not None and self._gen:
            self.progress.update(self.snapshot(), final=final)


def _record(c: Candidate, r: EvalResult) -> IndividualRecord:
    return IndividualRecord(
        hash=c.genome.hash, genome=c.genome.canonical_json(), parents=c.parents, operator=c.operator,
        status=r.status, seed=r.seed, acc=r.acc, nmi=r.nmi, ari=r.ari, recon_loss=r.recon_loss,
        baseline_loss=r.baseline_loss, params=r.params, seconds=r.seconds, error=r.error,
        node=r.node, device=r.device, silhouette=r.silhouette, rung_acc=r.rung_acc,
        pruned_at=r.pruned_at,
    )  # fmt: skip


_AVERAGED = ("acc", "nmi", "ari", "silhouette", "recon_loss")


def _evaluation(seed: int, values: dict[str, object], seconds: float) -> dict[str, object]:
    return {"seed": seed, **{k: values.get(k) for k in _AVERAGED}, "seconds": round(seconds, 3)}


def _merge(first: IndividualRecord, second: EvalResult) -> IndividualRecord:
    """The record of a genome evaluated twice: each evaluation kept, metrics their mean.
    A second evaluation that failed fails the genome (it did not reproduce), unless the
    infrastructure made it fail: then the first evaluation stands alone."""
    one = _evaluation(first.seed, first.__dict__, first.seconds)
    two = _evaluation(second.seed, second.model_dump(), second.seconds)
    if (second.error or "").startswith(INFRASTRUCTURE):
        return replace(first, evaluations=(one, {**two, "error": second.error}))
    if second.status != "ok":
        return replace(
            first, status="failed", acc=None, nmi=None, ari=None, silhouette=None,
            error=f"second evaluation (seed {second.seed}) {second.status}: {second.error}",
            evaluations=(one, two), seconds=first.seconds + second.seconds,
        )  # fmt: skip
    mean = {
        k: None if one[k] is None or two[k] is None else (float(one[k]) + float(two[k])) / 2  # type: ignore[arg-type]
        for k in _AVERAGED
    }
    return replace(first, **mean, evaluations=(one, two), seconds=first.seconds + second.seconds)  # type: ignore[arg-type]


def unique_records(records: Sequence[IndividualRecord]) -> list[IndividualRecord]:
    seen: dict[str, IndividualRecord] = {}
    for r in records:
        seen.setdefault(r.hash, r)
    return list(seen.values())


def _cached(c: Candidate, known: IndividualRecord) -> IndividualRecord:
    """A candidate whose genome was evaluated before: its metrics, no training, status cached."""
    return IndividualRecord(
        hash=known.hash, genome=known.genome, parents=c.parents, operator=c.operator,
        status="cached", seed=known.seed, acc=known.acc, nmi=known.nmi, ari=known.ari,
        recon_loss=known.recon_loss, baseline_loss=known.baseline_loss, params=known.params,
        seconds=0.0, error=known.error, node=None, device=None, silhouette=known.silhouette,
        rung_acc=known.rung_acc, pruned_at=known.pruned_at, evaluations=known.evaluations,
    )  # fmt: skip
