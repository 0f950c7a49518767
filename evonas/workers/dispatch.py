"""Dispatch evaluations to Ray workers: data shipped once, one task per genome.

The driver calls :meth:`RayEvaluator.evaluate` with genomes and seeds; each runs
:func:`evaluate_genome` in a Ray task that takes a GPU when Ray gives it one and the
CPU otherwise, with torch threads matched to the CPUs it was given. Workers return
results; they never touch the database.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import cast

import ray

from evonas.errors import INFRASTRUCTURE, InvalidGenomeError
from evonas.genomes import forward_macs
from evonas.values import Budget, EvalResult, FitnessData, Rung
from evonas.workers.fitness import evaluate_genome
from evonas.workers.jobs import EvalJob, FollowUp

log = logging.getLogger(__name__)


def _device_for_task() -> str:
    """CUDA when Ray assigned this task a GPU and torch can see one; the CPU otherwise."""
    import torch

    if ray.get_gpu_ids() and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def evaluate_task(
    genome_json: str,
    data: FitnessData,
    budget: Budget,
    seed: int,
    keep_weights: bool = False,
    timeout: float | None = None,
    rungs: tuple[Rung, ...] = (),
    board: ray.actor.ActorHandle | None = None,
    key: str = "",
) -> EvalResult:
    """The Ray task body: evaluate one genome on the resources Ray assigned to this task; with a
    ``board``, each finished epoch is posted there under ``key`` (fire and forget)."""
    ctx = ray.get_runtime_context()
    cpus = ctx.get_assigned_resources().get("CPU", 1.0)
    device = _device_for_task()
    try:
        result = evaluate_genome(
            genome_json,
            data,
            budget,
            seed,
            device=device,
            threads=max(1, int(cpus)),
            keep_weights=keep_weights,
            timeout=timeout,
            rungs=rungs,
            on_epoch=None if board is None else lambda done, total: board.post.remote(key, done, total),
        )
    finally:
        if device == "cuda":
            import torch

            torch.cuda.empty_cache()  # release what this evaluation held before the next one
    return result.model_copy(update={"node": ctx.get_node_id()})


# A task whose worker process dies (SIGKILL, OOM kill, a node leaving) is run again by Ray up to
# this many times; past that it comes back as a failed result naming the cause.
EVAL_RETRIES = 2
TICK_SECONDS = 5.0  # how often a long wait for results calls back, so progress never stalls
_remote_evaluate = ray.remote(max_retries=EVAL_RETRIES)(evaluate_task)


@ray.remote(num_cpus=0)
class ProgressBoard:
    """Epochs done by the evaluations in flight, posted by their tasks, read by the driver."""

    def __init__(self) -> None:
        self.epochs: dict[str, tuple[int, int]] = {}

    def post(self, key: str, done: int, total: int) -> None:
        self.epochs[key] = (done, total)

    def drop(self, keys: list[str]) -> None:
        for key in keys:
            self.epochs.pop(key, None)

    def read(self) -> dict[str, tuple[int, int]]:
        return dict(self.epochs)


def start_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` or start a local Ray instance on 127.0.0.1.

    Returns True when this call started (and so should stop) Ray. A local instance is kept
    on loopback: Ray 2.60 otherwise advertises the machine's routable address.
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Ray's messages go through the standard logging tree (the CLI sends them to a log file);
    # workers' own output stays in Ray's session logs.
    kwargs: dict = {"include_dashboard": False, "configure_logging": False, "log_to_driver": False}
    # ray.init makes SIGTERM exit the driver at once (status 15); keep the caller's handler (the
    # CLI's turns it into an orderly stop that marks the run interrupted)
    on_sigterm = signal.getsignal(signal.SIGTERM)
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local": a new instance of our own, even when another Ray runs on this machine or a
        # dead one left its address file behind (Ray would otherwise try to join it)
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, **kwargs)
    if threading.current_thread() is threading.main_thread() and on_sigterm is not None:
        signal.signal(signal.SIGTERM, on_sigterm)
    return True


def submission_order(jobs: Sequence[EvalJob], input_shape: tuple[int, int, int]) -> list[int]:
    """Job indices, most expensive first (estimated multiply-accumulates per image).

    Ray starts tasks roughly in the order they are submitted; starting the longest first keeps
    a generation from ending with one worker training a large CAE while the others wait
    (longest-processing-time-first scheduling). Ties keep the given order.
    """

    def cost(job: EvalJob) -> int:
        try:
            return forward_macs(job.genome, input_shape)
        except InvalidGenomeError:  # fails at once in its task, with the reason
            return 0

    costs = [cost(job) for job in jobs]
    return sorted(range(len(jobs)), key=lambda i: -costs[i])


class RayEvaluator:
    """Evaluates batches of genomes on Ray. Use as a context manager.

    The fitness data goes to the object store once, on entry; each task receives a
    reference to it, never a copy captured in a closure.
    """

    def __init__(
        self,
        data: FitnessData,
        budget: Budget,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        keep_weights: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.data = data
        self.budget = budget
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.keep_weights = keep_weights
        self.timeout = timeout
        self._owns_ray = False
        self._data_ref: ray.ObjectRef | None = None
        self._board: ray.actor.ActorHandle | None = None
        self._calls = 0
        self._running: dict[ray.ObjectRef, tuple[int, EvalJob]] = {}  # steady-state: ref -> ticket
        self._tickets = 0

    def __enter__(self) -> RayEvaluator:
        self._owns_ray = start_ray(self.address, self.num_cpus)
        self._data_ref = ray.put(self.data)
        self._board = ProgressBoard.remote()  # type: ignore[attr-defined]
        return self

    def in_flight(self) -> list[tuple[int, int]]:
        """(epochs done, epochs) of each evaluation that has finished an epoch and not yet
        returned; empty when the board cannot answer within a second (progress is best effort)."""
        if self._board is None:
            return []
        try:
            posted = cast(dict[str, tuple[int, int]], ray.get(self._board.read.remote(), timeout=1.0))
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError):
            return []
        return [posted[key] for key in sorted(posted)]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._data_ref = None
        self._board = None
        if self._owns_ray:
            ray.shutdown()

    @property
    def slots(self) -> int:
        """How many evaluations the cluster runs at once (its CPUs, or GPUs, per trial)."""
        resources = ray.cluster_resources()
        slots = resources.get("CPU", 1.0) / self.cpus_per_trial
        if self.gpus_per_trial > 0:
            slots = min(slots, resources.get("GPU", 0.0) / self.gpus_per_trial)
        return max(1, int(slots))

    def _task(self, job: EvalJob, key: str) -> ray.ObjectRef:
        if self._data_ref is None:
            raise RuntimeError("RayEvaluator used outside its 'with' block")
        task = _remote_evaluate.options(num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial)
        return task.remote(  # type: ignore[call-arg]
            job.genome.canonical_json(), self._data_ref, self.budget, job.seed, self.keep_weights,
            self.timeout, job.rungs, self._board, key,
        )  # fmt: skip

    def submit(self, job: EvalJob) -> int:
        """Start one evaluation now (steady-state mode); :meth:`wait_any` gives its result."""
        self._tickets += 1
        self._running[self._task(job, f"s:{self._tickets:09d}")] = (self._tickets, job)
        return self._tickets

    def wait_any(self, timeout: float) -> list[tuple[int, EvalResult]]:
        """Finished evaluations by ticket (at least one, unless ``timeout`` passes first)."""
        if not self._running:
            return []
        done, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if done:  # and whatever else has finished meanwhile
            done, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        out = []
        for ref in done:
            ticket, job = self._running.pop(ref)
            out.append((ticket, self._result(ref, job)))
            if self._board is not None:
                self._board.drop.remote([f"s:{ticket:09d}"])
        return out

    @staticmethod
    def _result(ref: ray.ObjectRef, job: EvalJob) -> EvalResult:
        """The task's result; a task Ray could not run (a worker lost beyond its retries) becomes a
        failed result naming the cause."""
        try:
            return cast(EvalResult, ray.get(ref))
        except ray.exceptions.RayError as exc:
            log.warning("evaluation of %s failed in Ray: %s", job.genome, exc)
            return EvalResult(
                status="failed", error=f"{INFRASTRUCTURE} {type(exc).__name__}: {exc}", seed=job.seed
            )

    def evaluate(
        self,
        jobs: Sequence[EvalJob],
        on_result: Callable[[int, EvalResult], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        follow_up: FollowUp | None = None,
    ) -> list[EvalResult]:
        """Evaluate ``jobs`` concurrently; results come back in job order.

        ``on_result(index, result)`` is called as each finishes (for progress display).
        ``follow_up(remaining)``, called after each of ``jobs`` finishes with how many of them
        have not, may return more jobs for this batch: they start at once (a slot the batch's
        tail leaves idle), get the next indices and come back after ``jobs``' results.
        A task that Ray cannot run (a worker lost beyond its retries) becomes a failed
        result naming the cause.
        """
        index: dict[ray.ObjectRef, int] = {}
        self._calls += 1
        queue = list(jobs)

        def key(i: int) -> str:
            return f"{self._calls}:{i:06d}"

        for i in submission_order(jobs, self.data.input_shape):
            index[self._task(jobs[i], key(i))] = i
        results: list[EvalResult | None] = [None] * len(jobs)
        pending = list(index)
        remaining = len(jobs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=TICK_SECONDS)
            if not done and on_tick is not None:
                on_tick()  # nothing finished for a while: let the display show time passing
            for ref in done:
                i = index[ref]
                result = self._result(ref, queue[i])
                results[i] = result
                if self._board is not None:
                    self._board.drop.remote([key(i)])
                if on_result is not None:
                    on_result(i, result)
                if i < len(jobs):
                    remaining -= 1
                    for extra in follow_up(remaining) if follow_up is not None else ():
                        queue.append(extra)
                        results.append(None)
                        ref = self._task(extra, key(len(queue) - 1))
                        index[ref] = len(queue) - 1
                        pending.append(ref)
        return [r for r in results if r is not None]
