"""The evolution loop on real Ray, real SQLite and real training on the built-in digits."""

import pytest

from evonas.nas import RunConfig, Search, best_individual
from evonas.nas.evolution import evaluation_seed
from evonas.storage import SQLStorage
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
    with RayEvaluator(digits_data, TINY_BUDGET) as evaluator:
        search = Search(config, space, digits_data.input_shape, storage, evaluator)
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
        assert ind.status == "failed" or ind.acc is not None
    # survivors come from the parents and the offspring; the best is never lost
    best_so_far = None
    for prev, gen in zip([None, *gens], gens, strict=False):
        allowed = {i.hash for i in gen.individuals} | (set(prev.population) if prev else set())
        assert set(gen.population) <= allowed
        best = best_individual([g for g in gens if g.index <= gen.index])
        if best is not None:
            assert best.hash in gen.population
            assert best_so_far is None or best.acc >= best_so_far
            best_so_far = best.acc
    assert search.best is not None and search.best.acc == best_so_far


def test_same_seed_same_populations_and_metrics(tmp_path, digits_data, ray_cluster):
    first, _ = _run(tmp_path, digits_data, "first", seed=5)
    second, _ = _run(tmp_path, digits_data, "second", seed=5)
    assert [g.population for g in first] == [g.population for g in second]
    assert [[i.metrics() for i in g.individuals] for g in first] == [
        [i.metrics() for i in g.individuals] for g in second
    ]
    other, _ = _run(tmp_path, digits_data, "other", seed=6)
    assert [g.population for g in other] != [g.population for g in first]


def test_a_genome_is_trained_once_per_run(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "cache", seed=2, population=3, offspring=6)
    trained = [i.hash for g in gens for i in g.individuals if i.status != "cached"]
    assert len(trained) == len(set(trained))
    for ind in (i for g in gens for i in g.individuals if i.status == "cached"):
        original = next(i for g in gens for i in g.individuals if i.hash == ind.hash and i.status != "cached")
        assert ind.metrics() == original.metrics()


def test_nsga2_selection_runs(tmp_path, digits_data, ray_cluster):
    gens, _ = _run(tmp_path, digits_data, "nsga", seed=3, selection="nsga2")
    assert len(gens) == 3 and all(len(g.population) == 4 for g in gens)
