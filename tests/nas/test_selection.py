import numpy as np
import pytest

from evonas.genomes import Genome
from evonas.metrics import Metrics
from evonas.nas.selection import Individual, select_survivors, tournament, unique
from evonas.storage import IndividualRecord


def _ind(compact: str, acc: float | None, loss: float = 0.01, multi: bool = False) -> Individual:
    g = Genome.from_compact(compact)
    rec = IndividualRecord(
        hash=g.hash, genome=g.canonical_json(), parents=(), operator="init",
        status="ok" if acc is not None else "failed", seed=0, metrics=Metrics(acc=acc, recon_loss=loss),
    )  # fmt: skip
    return Individual(g, rec, multi)


POOL = [_ind(f"c8k3-d{i}", acc) for i, acc in enumerate([0.5, 0.9, None, 0.7, 0.6, 0.2], start=2)]


def test_failed_individuals_rank_last():
    failed = POOL[2]
    assert all(failed.fitness < ind.fitness for ind in POOL if ind is not failed)


def test_best_selection_keeps_the_fittest_distinct_genomes():
    pool = [*POOL, _ind("c8k3-d3", 0.9)]  # a duplicate of the best genome
    out = select_survivors(pool, 3, "best", np.random.default_rng(0))
    assert [i.record.metrics.acc for i in out] == [0.9, 0.7, 0.6]
    assert len(unique(out)) == 3


def test_tournament_selection_always_keeps_the_elite():
    for seed in range(20):
        out = select_survivors(
            POOL, 3, "tournament", np.random.default_rng(seed), tournament_size=2, elites=1
        )
        assert out[0].record.metrics.acc == 0.9 and len(unique(out)) == 3


def test_tournament_is_reproducible_from_the_generator():
    a = tournament(POOL, 10, 3, np.random.default_rng(5))
    b = tournament(POOL, 10, 3, np.random.default_rng(5))
    assert a == b
    # and it is the generator that decides: other seeds draw other winners
    draws = {tuple(i.hash for i in tournament(POOL, 10, 3, np.random.default_rng(s))) for s in range(10)}
    assert len(draws) > 1


def test_nsga2_keeps_the_pareto_front():
    pool = [
        _ind("c8k3-d2", 0.9, loss=0.05, multi=True),
        _ind("c8k3-d3", 0.5, loss=0.01, multi=True),  # worse ACC, better loss: on the front
        _ind("c8k3-d4", 0.4, loss=0.06, multi=True),  # dominated by both
        _ind("c8k3-d5", None, multi=True),
    ]
    out = select_survivors(pool, 2, "nsga2", np.random.default_rng(0))
    assert {i.record.metrics.acc for i in out} == {0.9, 0.5}


def test_pruned_individuals_rank_below_every_complete_one_and_above_failures():
    g = Genome.from_compact("c8k3-d9")
    pruned = Individual(g, IndividualRecord(
        hash=g.hash, genome=g.canonical_json(), parents=(), operator="init", status="pruned", seed=0,
        metrics=Metrics(acc=0.95), rung_acc=0.95, pruned_at=2,
    ))  # fmt: skip
    complete = [ind for ind in POOL if ind.record.metrics.acc is not None]
    assert all(pruned.fitness < ind.fitness for ind in complete)
    assert pruned.fitness > POOL[2].fitness  # the failed one
    out = select_survivors([*POOL, pruned], 6, "best", np.random.default_rng(0))
    assert pruned in out and POOL[2] not in out  # kept only because too few complete ones
    assert pruned not in select_survivors([*POOL, pruned], 5, "best", np.random.default_rng(0))


def test_a_second_evaluation_is_averaged_or_fails_the_genome_unless_the_infrastructure_failed():
    from evonas.nas.outcomes import merge_second
    from evonas.workers import EvalResult

    first = POOL[1].record  # acc 0.9
    ok = merge_second(
        first,
        EvalResult(
            status="ok", metrics=Metrics(acc=0.8, nmi=0.5, ari=0.4, recon_loss=0.03), seed=5, seconds=2.0
        ),
    )
    assert (
        ok.metrics.acc == pytest.approx(0.85)
        and ok.status == "ok"
        and [e["seed"] for e in ok.evaluations] == [0, 5]
    )
    assert ok.seconds == first.seconds + 2.0
    bad = merge_second(first, EvalResult(status="failed", error="gate: did not learn", seed=5))
    assert bad.status == "failed" and bad.metrics.acc is None and "did not reproduce" not in (bad.error or "")
    assert "second evaluation (seed 5) failed: gate" in (bad.error or "") and not bad.complete
    lost = merge_second(first, EvalResult(status="failed", error="infrastructure: worker died", seed=5))
    assert (
        lost.metrics.acc == 0.9
        and lost.complete
        and lost.evaluations[1]["error"] == "infrastructure: worker died"
    )
