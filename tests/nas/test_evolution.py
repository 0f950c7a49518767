"""The evolution loop on real Ray, real SQLite and real training on the built-in digits."""

import pytest

from evonas.nas import RunConfig, Search
from evonas.nas.pruning import PruningConfig, rung_epochs, thresholds
from evonas.seeds import evaluation_seed
from evonas.storage import SQLStorage
from evonas.views import best_individual
from evonas.workers import RayEvaluator

from ..conftest import TINY_BUDGET

pytestmark = pytest.mark.slow


def _run(tmp_path, digits_data, name: str, seed: int, **overrides):
    options = {"population": 4, "generations": 2, **overrides}
    config = RunConfig(name=name, seed=seed, budget=TINY_BUDGET, db=str(tmp_path / "evo.db"), **options)
    from evonas.genomes import SearchSpace

    space = SearchSpace.preset_for(digits_data.input_shape).model_copy(update={"max_channels": 16})
    storage = SQLStorage(config.db)
    run = storage.create_run(name, config.model_dump(mode="json"), seed)
    epochs = rung_epochs(config.pruning, TINY_BUDGET, len(digits_data.x_train))
    with RayEvaluator(digits_data, TINY_BUDGET) as evaluator:
        search = Search(config, space, digits_data.input_shape, storage, evaluator, rung_epochs=epochs)
        search.run(run)
    storage.update_run(run.id, "finished")
    gens = storage.load_generations(run.id)
    storage.close()
    return gens, search


def test_a_run_stores_every_generation_and_keeps_the_best(tmp_path, digits_data, ray_cluster):
    gens, search = _run(tmp_path, digits_data, "a", seed=1)
    assert [g.index for g in gens] == [0, 1, 2]
    assert all(len(g.population) == 4 and len(set(g.population)) == 4 for g in gens)
    assert all(len(g.individuals) == 4 for g in gens)
    assert all(i.operator == "init" and i.parents == () for i in gens[0].individuals)
    for g in gens[1:]:
        assert all(i.operator and i.parents for i in g.individuals)
    # every individual was really evaluated: on a Ray node, with its derived seed
    for ind in (i for g in gens for i in g.individuals if i.status != "cached"):
        assert ind.node and ind.seed == evaluation_seed(1, ind.hash)
        assert ind.status == "failed" or ind.metrics.acc is not None
    # survivors come from the parents and the offspring; the best is never lost
    best_so_far = None
    for prev, gen in zip([None, *gens], gens, strict=False):
        allowed = {i.hash for i in gen.individuals} | (set(prev.population) if prev else set())
        assert set(gen.population) <= allowed
        best = best_individual([g for g in gens if g.index <= gen.index])
        if best is not None:
            assert best.hash in gen.population
            assert best_so_far is None or best.metrics.acc >= best_so_far
            best_so_far = best.metrics.acc
    assert search.best is not None and search.best.metrics.acc == best_so_far


def test_same_seed_same_populations_and_metrics(tmp_path, digits_data, ray_cluster):
    first, _ = _run(tmp_path, digits_data, "first", seed=5)
    second, _ = _run(tmp_path, digits_data, "second", seed=5)
    assert [g.population for g in first] == [g.population for g in second]
    assert [[i.metrics for i in g.individuals] for g in first] == [
        [i.metrics for i in g.individuals] for g in second
    ]
    other, _ = _run(tmp_path, digits_data, "other", seed=6)
    assert [g.population for g in other] != [g.population for g in first]


def test_a_genome_is_trained_once_per_run(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "cache", seed=2, population=3, offspring=6)
    records = [i for g in gens for i in g.individuals]
    trained = [i.hash for i in records if i.status != "cached"]
    assert len(trained) == len(set(trained)) >= 3  # generation 0 alone trains 3
    for ind in (i for i in records if i.status == "cached"):
        original = next(i for i in records if i.hash == ind.hash and i.status != "cached")
        assert ind.metrics == original.metrics and ind.seed == original.seed
        assert ind.seconds == 0.0 and ind.head_seconds is None  # a copy trained nothing


def test_nsga2_selection_runs(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "nsga", seed=3, selection="nsga2")
    assert len(gens) == 3 and all(len(g.population) == 4 for g in gens)


def test_the_best_new_candidates_are_evaluated_again_with_a_second_seed(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "twice", seed=1, generations=1, reevaluate=2)
    for g in gens:
        fresh = [i for i in g.individuals if i.status != "cached"]
        twice = [i for i in fresh if i.evaluations]
        once = [i for i in fresh if not i.evaluations and i.status == "ok"]
        assert len(twice) == min(2, len(twice) + len(once)) and twice
        for ind in twice:
            first, second = ind.evaluations
            assert [first["seed"], second["seed"]] == [
                evaluation_seed(1, ind.hash),
                evaluation_seed(1, ind.hash, 1),
            ]
            assert first["acc"] != second["acc"] or first["recon_loss"] != second["recon_loss"]
            if ind.status == "ok":
                assert ind.metrics.acc == pytest.approx((first["acc"] + second["acc"]) / 2)
            # they were the best of the generation on their first evaluation
            assert all(first["acc"] >= other.metrics.acc for other in once)


def test_offspring_clearly_worse_at_the_checkpoint_are_pruned_and_rank_last(
    tmp_path, digits_data, ray_cluster
):
    # a strict bar (the best parent's score at each of two rungs) so that this small run prunes
    pruning = PruningConfig(checkpoints=(0.2, 0.6), min_steps=0, quantile=1.0, margin=0.0)
    gens, search = _run(tmp_path, digits_data, "prune", seed=4, generations=3, pruning=pruning, reevaluate=0)
    latest = {}
    assert any(i.status == "pruned" for g in gens for i in g.individuals)  # the strict bar did prune
    for g in gens:
        assert all(i.rung_acc is not None for i in g.individuals if i.status == "ok")
        if g.index == 0:
            assert all(i.status != "pruned" for i in g.individuals)  # no parents, no bar
        else:
            bars = thresholds([latest[h] for h in gens[g.index - 1].population], pruning, (1, 3))
            for ind in (i for i in g.individuals if i.status != "cached"):
                if ind.status == "pruned":  # below the bar of the rung it stopped at (epoch 1 or 3)
                    rung = ind.pruned_at
                    assert rung in bars and ind.rung_scores[rung] < bars[rung]
                    assert ind.metrics.acc == ind.rung_acc == ind.rung_scores[rung]
                elif ind.status == "ok":
                    assert all(ind.rung_scores[e] >= bars.get(e, -1.0) for e in (1, 3))
        for i in g.individuals:
            latest.setdefault(i.hash, i)
        # selection: a pruned individual survives only when there are too few complete ones
        pool = {i.hash: i for i in g.individuals} | {
            h: latest[h] for h in (gens[g.index - 1].population if g.index else ())
        }
        complete = {h for h, i in pool.items() if i.complete}
        if any(not pool[h].complete for h in g.population):
            assert complete <= set(g.population)
    pruned = [i for g in gens for i in g.individuals if i.status == "pruned"]
    assert pruned, "the strict bar pruned nothing: the test would not test pruning"
    assert search.best is not None and search.best.complete
    best = best_individual(gens)
    complete = [i.score for g in gens for i in g.individuals if i.complete]
    assert best is not None and best.complete and best.score == max(complete)
    assert best.hash == search.best.hash


def test_random_search_draws_new_random_genomes_every_generation(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "random", seed=1, strategy="random", reevaluate=0)
    assert [len(g.individuals) for g in gens] == [4, 4, 4]
    assert all(i.operator == "random" and i.parents == () for g in gens[1:] for i in g.individuals)
    hashes = [i.hash for g in gens for i in g.individuals]
    assert len(hashes) == len(set(hashes))  # never a genome it has already evaluated
