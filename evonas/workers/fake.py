"""A deterministic stand-in for :class:`~evonas.workers.RayEvaluator`, for fast tests of the loop.

The score is a pure function of the genome's hash and the evaluation seed (no training, no Ray),
so selection, resume, pruning and re-evaluation can be tested in milliseconds; the real evaluator
is tested end to end elsewhere. It honours the evaluator's contract: results come back in job
order, ``on_result`` is called as each finishes, a pruning rung stops evaluations below its bar.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from evonas.genomes import Genome
from evonas.metrics import Metrics
from evonas.statuses import EvalStatus
from evonas.workers.dispatch import EvalJob, FollowUp
from evonas.workers.fitness import EvalResult

CHECKPOINT_GAP = 0.05  # the score at the first checkpoint is this much below the final one
CHECKPOINT_JITTER = 0.04  # and moves by up to +-half this from rung to rung (ranks change)


def _unit(*parts: object) -> float:
    """A number in [0, 1) determined by ``parts``."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def fake_score(genome: Genome, seed: int, metric: str = "acc") -> float:
    """The fake ACC (or another ``metric``) of ``genome``: 0.2-0.8 from its hash, plus up to +-0.01
    from the seed; each metric its own draw, so they rank genomes differently."""
    key = (genome.hash,) if metric == "acc" else (genome.hash, metric)
    return 0.2 + 0.6 * _unit(*key) + 0.02 * (_unit(*key, seed) - 0.5)


def fake_checkpoint_score(genome: Genome, seed: int, epoch: int, position: int, count: int) -> float:
    """The fake score at the ``position``-th of ``count`` checkpoints (after ``epoch`` epochs)."""
    gap = CHECKPOINT_GAP * (count - position) / count
    return fake_score(genome, seed) - gap + CHECKPOINT_JITTER * (_unit(genome.hash, "rung", epoch) - 0.5)


def fake_result(job: EvalJob, fail: Callable[[Genome], bool] = lambda g: False) -> EvalResult:
    """What the fake evaluator returns for one job."""
    if fail(job.genome):
        return EvalResult(status=EvalStatus.FAILED, error="gate: fake failure", seed=job.seed, seconds=1.0)
    score = fake_score(job.genome, job.seed)
    nmi = fake_score(job.genome, job.seed, "nmi")  # ranks genomes otherwise than ACC does
    metrics = Metrics(acc=score, nmi=nmi, ari=score - 0.2, recon_loss=0.1 - score / 10, params=1000)
    scores: dict[int, float] = {}
    rungs = sorted(job.rungs, key=lambda r: r.epoch)
    for i, rung in enumerate(rungs):  # the score climbs to the final one over the checkpoints
        at_checkpoint = fake_checkpoint_score(job.genome, job.seed, rung.epoch, i, len(rungs))
        scores[rung.epoch] = at_checkpoint
        if rung.prune_below is not None and at_checkpoint < rung.prune_below:
            early = metrics.model_copy(update={"acc": at_checkpoint})
            return EvalResult(
                status=EvalStatus.PRUNED, metrics=early, rung_acc=at_checkpoint, rung_scores=scores,
                pruned_at=rung.epoch, seed=job.seed, seconds=0.5 * (i + 1) / len(rungs),
                error=f"pruned: score {at_checkpoint:.4f} is below {rung.prune_below:.4f}",
            )  # fmt: skip
    return EvalResult(
        status=EvalStatus.OK, metrics=metrics, rung_acc=scores[rungs[-1].epoch] if rungs else None,
        rung_scores=scores, seed=job.seed, seconds=1.0,
    )  # fmt: skip


class FakeEvaluator:
    """Evaluates jobs with :func:`fake_result`, in order, ``slots`` at a time (notionally)."""

    def __init__(
        self, slots: int = 2, fail: Callable[[Genome], bool] = lambda g: False, delay: float = 0.0
    ) -> None:
        self._slots = slots
        self.fail = fail
        self.delay = delay  # seconds each evaluation takes (for time-budget tests)
        self.calls: list[EvalJob] = []  # every job evaluated, in order
        self.events: list[tuple[str, int]] = []  # ("done", i) / ("submit", i) within each batch
        self._submitted: list[tuple[int, EvalJob]] = []  # steady-state: finished in submission order
        self._tickets = 0

    def in_flight(self) -> list[tuple[int, int]]:
        return []  # evaluations here are instantaneous

    @property
    def slots(self) -> int:
        return self._slots

    def submit(self, job: EvalJob) -> int:
        self._tickets += 1
        self._submitted.append((self._tickets, job))
        return self._tickets

    def wait_any(self, timeout: float) -> list[tuple[int, EvalResult]]:
        if not self._submitted:
            return []
        ticket, job = self._submitted.pop(0)
        self.calls.append(job)
        if self.delay:
            time.sleep(self.delay)
        return [(ticket, fake_result(job, self.fail))]

    def evaluate(
        self,
        jobs: Sequence[EvalJob],
        on_result: Callable[[int, EvalResult], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        follow_up: FollowUp | None = None,
    ) -> list[EvalResult]:
        """In order; follow-up jobs queue behind the batch's jobs, as a busy pool would run them."""
        queue = list(jobs)
        results = []
        i = 0
        while i < len(queue):
            job = queue[i]
            self.calls.append(job)
            self.events.append(("done", i))
            if self.delay:
                time.sleep(self.delay)
            result = fake_result(job, self.fail)
            if on_result is not None:
                on_result(i, result)
            results.append(result)
            if i < len(jobs) and follow_up is not None:
                for extra in follow_up(len(jobs) - i - 1):
                    self.events.append(("submit", len(queue)))
                    queue.append(extra)
            i += 1
        return results
