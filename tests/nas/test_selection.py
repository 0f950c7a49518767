import numpy as np

from evonas.genomes import Genome
from evonas.nas.selection import Individual, select_survivors, tournament, unique
from evonas.storage import IndividualRecord


def _ind(compact: str, acc: float | None, loss: float = 0.01, multi: bool = False) -> Individual:
    g = Genome.from_compact(compact)
    rec = IndividualRecord(
        hash=g.hash, genome=g.canonical_json(), parents=(), operator="init",
        status="ok" if acc is not None else "failed", seed=0, acc=acc, recon_loss=loss,
    )  # fmt: skip
    return Individual(g, rec, multi)


POOL = [_ind(f"c8k3-d{i}", acc) for i, acc in enumerate([0.5, 0.9, None, 0.7, 0.6, 0.2], start=2)]


def test_failed_individuals_rank_last():
    failed = POOL[2]
    assert all(failed.fitness < ind.fitness for ind in POOL if ind is not failed)


def test_best_selection_keeps_the_fittest_distinct_genomes():
    pool = [*POOL, _ind("c8k3-d3", 0.9)]  # a duplicate of the best genome
    out = select_survivors(pool, 3, "best", np.random.default_rng(0))
    assert [i.record.acc for i in out] == [0.9, 0.7, 0.6]
    assert len(unique(out)) == 3


def test_tournament_selection_always_keeps_the_elite():
    for seed in range(20):
        out = select_survivors(
            POOL, 3, "tournament", np.random.default_rng(seed), tournament_size=2, elites=1
        )
        assert out[0].record.acc == 0.9 and len(unique(out)) == 3


def test_tournament_is_reproducible_from_the_generator():
    a = tournament(POOL, 10, 3, np.random.default_rng(5))
    b = tournament(POOL, 10, 3, np.random.default_rng(5))
    assert a == b


def test_nsga2_keeps_the_pareto_front():
    pool = [
        _ind("c8k3-d2", 0.9, loss=0.05, multi=True),
        _ind("c8k3-d3", 0.5, loss=0.01, multi=True),  # worse ACC, better loss: on the front
        _ind("c8k3-d4", 0.4, loss=0.06, multi=True),  # dominated by both
        _ind("c8k3-d5", None, multi=True),
    ]
    out = select_survivors(pool, 2, "nsga2", np.random.default_rng(0))
    assert {i.record.acc for i in out} == {0.9, 0.5}
