"""The order in which a batch of evaluations is handed to Ray, and their progress on the way."""

import pytest

from evonas.errors import INFRASTRUCTURE
from evonas.genomes import Genome
from evonas.workers import Budget, RayEvaluator
from evonas.workers.dispatch import EvalJob, submission_order


def test_the_most_expensive_evaluations_are_submitted_first():
    genomes = [
        "c8k3-d4",  # small
        "c32k5-c32k5-d16",  # large
        "c8k3-pmax-c8k3-pmax-c8k3-pmax-c8k3-pmax-d4",  # a fourth pool collapses 8x8: invalid here
        "c16k3-d8",  # middle
        "c8k3-d4",  # a tie with the first keeps its place after it
    ]
    jobs = [EvalJob(Genome.from_compact(g), seed=i) for i, g in enumerate(genomes)]
    assert submission_order(jobs, (1, 8, 8)) == [1, 3, 0, 4, 2]


@pytest.mark.slow
def test_epochs_of_running_evaluations_reach_the_driver(digits_data, ray_cluster):
    """Progress inside an evaluation: each finished epoch is posted to the board the driver reads,
    and an evaluation that has returned leaves it."""
    import threading
    import time

    budget = Budget(epochs=60, batch_size=32, lr=1e-2, kmeans_n_init=1)
    jobs = [EvalJob(Genome.from_compact("c16k3-c16k3-d10"), seed=s) for s in (1, 2)]
    seen: list[list[tuple[int, int]]] = []
    with RayEvaluator(digits_data, budget) as evaluator:
        worker = threading.Thread(target=evaluator.evaluate, args=(jobs,))
        worker.start()
        while worker.is_alive():
            seen.append(evaluator.in_flight())
            time.sleep(0.05)
        worker.join()
        assert evaluator.in_flight() == []
    posted = [entry for snapshot in seen for entry in snapshot]
    assert posted and all(total == 60 and 1 <= done <= 60 for done, total in posted)
    assert any(done < 60 for done, _ in posted)  # seen while still training


@pytest.mark.slow
def test_follow_up_jobs_join_the_batch_as_its_last_jobs_run(digits_data, ray_cluster):
    """On Ray, jobs returned by ``follow_up`` start in the same batch, get the indices after the
    batch's own jobs and come back with them; ``follow_up`` hears how many of the batch's own jobs
    are still unfinished (never counting follow-ups)."""
    budget = Budget(epochs=2, batch_size=32, kmeans_n_init=1)
    jobs = [EvalJob(Genome.from_compact(f"c8k3-d{k}"), seed=k) for k in (4, 5, 6)]
    extra = EvalJob(Genome.from_compact("c8k3-d7"), seed=7)
    heard: list[int] = []
    finished: list[int] = []

    def follow_up(remaining: int) -> list[EvalJob]:
        heard.append(remaining)
        return [extra] if remaining == 1 else []

    with RayEvaluator(digits_data, budget) as evaluator:
        results = evaluator.evaluate(jobs, lambda i, _r: finished.append(i), None, follow_up)
    assert heard == [2, 1, 0]
    assert sorted(finished) == [0, 1, 2, 3] and len(results) == 4
    assert [r.seed for r in results] == [4, 5, 6, 7]  # each ran (two epochs may fail the gate: fine)
    assert not [r.error for r in results if (r.error or "").startswith(INFRASTRUCTURE)]
