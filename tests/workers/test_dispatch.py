"""The order in which a batch of evaluations is handed to Ray."""

from evonas.genomes import Genome
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
