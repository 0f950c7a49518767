"""The generational loop's logic with the deterministic fake evaluator: fast, no Ray, no training.

The same loop is tested on real Ray with real training in test_evolution.py and test_resume.py.
"""

import itertools

import pytest

from evonas.genomes import Genome, Recipe, SearchSpace
from evonas.metrics import Metrics
from evonas.nas import RunConfig, Search
from evonas.nas.pruning import PruningConfig, thresholds
from evonas.seeds import evaluation_seed
from evonas.storage import SQLStorage
from evonas.views import best_individual
from evonas.workers.fake import FakeEvaluator, fake_checkpoint_score, fake_result

SHAPE = (1, 8, 8)
SPACE = SearchSpace.preset_for(SHAPE)


def _search(tmp_path, name="r", evaluator=None, rung_epochs=(), **options):
    config = RunConfig(
        name=name, db=str(tmp_path / "loop.db"), **{"population": 6, "generations": 4, **options}
    )
    storage = SQLStorage(config.db)
    evaluator = evaluator or FakeEvaluator()
    search = Search(config, SPACE, SHAPE, storage, evaluator, rung_epochs=rung_epochs)
    return config, storage, search


def _fingerprint(gens):
    return [
        (g.index, g.population, [(i.hash, i.status, i.metrics, i.operator) for i in g.individuals])
        for g in gens
    ]


def test_the_loop_stores_every_generation_and_its_best_survives(tmp_path):
    config, storage, search = _search(tmp_path)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    assert [g.index for g in gens] == [0, 1, 2, 3, 4]
    for prev, gen in itertools.pairwise(gens):
        best = best_individual([g for g in gens if g.index <= gen.index])
        assert best is not None and best.hash in gen.population
        assert set(gen.population) <= set(prev.population) | {i.hash for i in gen.individuals}
    assert search.best == best_individual(gens)
    # the GA keeps what is good: the last population is better than the first on average
    first = [i.score for i in gens[0].individuals if i.complete]
    last = [r.score for h in gens[-1].population for r in search.state.known.values() if r.hash == h]
    assert sum(last) / len(last) > sum(first) / len(first)


def test_the_best_two_of_each_generation_get_a_second_seed_and_their_mean(tmp_path):
    config, storage, search = _search(tmp_path, reevaluate=2)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gen0 = storage.load_generations(run.id)[0]
    twice = [i for i in gen0.individuals if i.evaluations]
    assert len(twice) == 2
    for ind in twice:
        seeds = [e["seed"] for e in ind.evaluations]
        assert seeds == [evaluation_seed(0, ind.hash), evaluation_seed(0, ind.hash, 1)]
        assert ind.metrics.acc == pytest.approx(sum(e["acc"] for e in ind.evaluations) / 2)


class AtTheBarrier(FakeEvaluator):
    """Takes no follow-up jobs: second seeds wait for the whole generation, as before they
    could start early."""

    def evaluate(self, jobs, on_result=None, on_tick=None, follow_up=None):
        return super().evaluate(jobs, on_result, on_tick, None)


def _with_evaluations(gens):
    return [
        (fp, [i.evaluations for i in g.individuals]) for fp, g in zip(_fingerprint(gens), gens, strict=True)
    ]


class BestLast(FakeEvaluator):
    """Runs each batch worst first, so the generation's best finishes last: a second seed
    started on a guess would go to the wrong candidate."""

    def evaluate(self, jobs, on_result=None, on_tick=None, follow_up=None):
        def score(job):
            value = fake_result(job).metrics.score()
            return -1.0 if value is None else value

        order = sorted(range(len(jobs)), key=lambda i: score(jobs[i]))

        def mapped(i, result):
            on_result(order[i] if i < len(jobs) else i, result)

        results = super().evaluate([jobs[i] for i in order], mapped, on_tick, follow_up)
        return [results[order.index(i)] for i in range(len(jobs))] + results[len(jobs) :]


@pytest.mark.parametrize("evaluator", [FakeEvaluator, BestLast], ids=["as-listed", "best-last"])
def test_second_seeds_start_while_the_last_evaluations_run_and_change_nothing(tmp_path, evaluator):
    early = evaluator()
    config, storage, search = _search(tmp_path, name="early", evaluator=early, reevaluate=2)
    run = storage.create_run("early", config.model_dump(mode="json"), 0)
    search.run(run)
    barrier = AtTheBarrier()
    late = config.model_copy(update={"name": "late"})
    run2 = storage.create_run("late", late.model_dump(mode="json"), 0)
    Search(late, SPACE, SHAPE, storage, barrier).run(run2)

    assert _with_evaluations(storage.load_generations(run.id)) == _with_evaluations(
        storage.load_generations(run2.id)
    )
    assert sorted((j.genome.hash, j.seed) for j in early.calls) == sorted(
        (j.genome.hash, j.seed) for j in barrier.calls
    )  # nothing speculative: the same evaluations, none wasted
    # in some generation a second seed was submitted while the batch's last candidate still ran
    batches: list[list[tuple[str, int]]] = []
    for event in early.events:
        if event == ("done", 0):
            batches.append([])
        batches[-1].append(event)
    started_early = 0
    for b in batches:
        submits = [n for kind, n in b if kind == "submit"]
        if submits:  # the first follow-up's index is the number of first evaluations
            first = submits[0]
            started_early += b.index(("submit", first)) < b.index(("done", first - 1))
    assert started_early >= 2


def test_a_crash_after_an_early_second_seed_resumes_exactly_without_running_it_again(tmp_path):
    config, storage, search = _search(tmp_path, name="whole", reevaluate=2)
    whole = storage.create_run("whole", config.model_dump(mode="json"), 0)
    search.run(whole)

    class CrashAfterEarlySecondSeed(FakeEvaluator):
        def evaluate(self, jobs, on_result=None, on_tick=None, follow_up=None):
            def crash_on_second_seed(i, result):
                on_result(i, result)
                if i >= len(jobs):  # a follow-up: the early second seed, now journaled
                    raise RuntimeError("driver crashed")

            return super().evaluate(jobs, crash_on_second_seed, on_tick, follow_up)

    cut_config = config.model_copy(update={"name": "cut"})
    cut = storage.create_run("cut", cut_config.model_dump(mode="json"), 0)
    first = CrashAfterEarlySecondSeed()
    with pytest.raises(RuntimeError):
        Search(cut_config, SPACE, SHAPE, storage, first).run(cut)
    journaled = storage.load_journal(cut.id, 0)
    assert any(key.endswith("/2") for key in journaled)
    second = FakeEvaluator()
    Search(cut_config, SPACE, SHAPE, storage, second).run(cut, storage.load_generations(cut.id))
    assert _with_evaluations(storage.load_generations(cut.id)) == _with_evaluations(
        storage.load_generations(whole.id)
    )
    assert not {(j.genome.hash, j.seed) for j in first.calls} & {
        (j.genome.hash, j.seed) for j in second.calls
    }


@pytest.mark.parametrize("rungs", [(), (2, 4)], ids=["no-pruning", "two-rungs"])
def test_an_interrupted_run_resumes_exactly_and_reuses_journaled_evaluations(tmp_path, rungs):
    pruning = PruningConfig(quantile=0.5, margin=0.0)
    config, storage, search = _search(tmp_path, name="whole", rung_epochs=rungs, pruning=pruning)
    whole = storage.create_run("whole", config.model_dump(mode="json"), 0)
    search.run(whole)
    expected = _fingerprint(storage.load_generations(whole.id))

    class Interrupting(FakeEvaluator):
        def evaluate(self, jobs, on_result=None, on_tick=None, follow_up=None):
            if len(self.calls) > 20:
                raise KeyboardInterrupt
            return super().evaluate(jobs, on_result, on_tick, follow_up)

    config2 = config.model_copy(update={"name": "cut"})
    first = Interrupting()
    cut = storage.create_run("cut", config2.model_dump(mode="json"), 0)
    with pytest.raises(KeyboardInterrupt):
        Search(config2, SPACE, SHAPE, storage, first, rung_epochs=rungs).run(cut)
    stored = storage.load_generations(cut.id)
    assert 0 < len(stored) < 5
    second = FakeEvaluator()
    Search(config2, SPACE, SHAPE, storage, second, rung_epochs=rungs).run(cut, stored)
    resumed = storage.load_generations(cut.id)
    assert _fingerprint(resumed) == expected
    if rungs:  # the rungs repeat exactly: the same candidates pruned at the same rung
        assert any(i.status == "pruned" for g in resumed for i in g.individuals)
        pruned_at = [(i.hash, i.pruned_at, i.rung_scores) for g in resumed for i in g.individuals]
        whole_pruned = [(i.hash, i.pruned_at, i.rung_scores) for g in storage.load_generations(whole.id)
                        for i in g.individuals]  # fmt: skip
        assert pruned_at == whole_pruned
    done_before = {(j.genome.hash, j.seed) for j in first.calls}
    assert not done_before & {(j.genome.hash, j.seed) for j in second.calls}  # nothing journaled re-run


def test_journaled_evaluations_of_an_unfinished_generation_are_taken_not_rerun(tmp_path):
    config, storage, _ = _search(tmp_path, generations=0, reevaluate=0)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)

    class Crashing(FakeEvaluator):
        def evaluate(self, jobs, on_result=None, on_tick=None, follow_up=None):
            def stop_after_three(i, result):
                on_result(i, result)
                if i == 2:
                    raise RuntimeError("driver crashed")

            return super().evaluate(jobs, stop_after_three, on_tick, follow_up)

    with pytest.raises(RuntimeError):
        Search(config, SPACE, SHAPE, storage, Crashing()).run(run)
    assert len(storage.load_journal(run.id, 0)) == 3
    again = FakeEvaluator()
    Search(config, SPACE, SHAPE, storage, again).run(run)
    assert len(again.calls) == 6 - 3
    assert storage.load_journal(run.id, 0) == {}  # dropped when the generation was stored


def test_offspring_below_the_parents_checkpoint_bar_are_pruned_and_never_best(tmp_path):
    config, storage, search = _search(
        tmp_path, rung_epochs=(2,), pruning=PruningConfig(quantile=0.5, margin=0.0), reevaluate=0
    )
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    pruned = [i for g in gens for i in g.individuals if i.status == "pruned"]
    assert pruned, "the median bar prunes some offspring"
    assert all(i.pruned_at == 2 and i.rung_acc == pytest.approx(i.metrics.acc) for i in pruned)
    assert all(i.status != "pruned" for i in gens[0].individuals)  # generation 0 has no parents
    best = best_individual(gens)
    assert best is not None and best.status != "pruned" and best.pruned_at is None
    assert all(i.rung_acc == pytest.approx(fake_rung_score_of(i, 2)) for i in pruned)


def test_successive_halving_prunes_at_each_rung_against_the_parents_scores_there(tmp_path):
    pruning = PruningConfig(checkpoints=(0.25, 0.5), quantile=0.75, margin=0.0)
    config, storage, search = _search(tmp_path, rung_epochs=(2, 4), pruning=pruning, reevaluate=0,
                                      generations=6)  # fmt: skip
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    latest: dict = {}
    at = {2: 0, 4: 0}
    for g in gens:
        if g.index:
            parents = [latest[h] for h in gens[g.index - 1].population]
            bars = thresholds(parents, pruning, (2, 4))
            for ind in (i for i in g.individuals if i.status in ("ok", "pruned")):
                if ind.status == "pruned":  # below the bar of the rung it stopped at, above earlier ones
                    at[ind.pruned_at] += 1
                    assert ind.rung_scores[ind.pruned_at] < bars[ind.pruned_at]
                    assert all(ind.rung_scores[e] >= bars.get(e, -1) for e in (2, 4) if e < ind.pruned_at)
                    assert set(ind.rung_scores) == {e for e in (2, 4) if e <= ind.pruned_at}
                else:
                    assert set(ind.rung_scores) == {2, 4}
                    assert all(ind.rung_scores[e] >= bars.get(e, -1) for e in (2, 4))
        else:
            assert all(set(i.rung_scores) == {2, 4} for i in g.individuals)
        for i in g.individuals:
            latest.setdefault(i.hash, i)
    assert at[2] > 0 and at[4] > 0, f"both rungs must prune for this test to test them: {at}"


def test_old_single_checkpoint_configs_and_records_keep_their_bar():
    old = PruningConfig.model_validate({"enabled": True, "checkpoint": 0.5, "min_steps": 500,
                                        "quantile": 0.5, "margin": 0.02})  # fmt: skip
    assert old.checkpoints == (0.5,)
    from evonas.storage import IndividualRecord

    parents = [
        IndividualRecord(
            hash=str(i),
            genome="{}",
            parents=(),
            operator="init",
            status="ok",
            seed=0,
            metrics=Metrics(acc=0.5 + i / 10),
            rung_acc=0.4 + i / 10,
        )
        for i in range(3)
    ]  # fmt: skip  (stored before rung_scores existed)
    assert thresholds(parents, old, (4,)) == {4: pytest.approx(0.5 - 0.02)}
    with pytest.raises(ValueError, match="increasing"):
        PruningConfig(checkpoints=(0.5, 0.25))
    with pytest.raises(ValueError, match="between 0 and 1"):
        PruningConfig(checkpoints=(0.5, 1.0))


def fake_rung_score_of(record, epoch):
    return fake_checkpoint_score(Genome.from_json(record.genome), record.seed, epoch, 0, 1)


def test_failed_candidates_are_stored_with_their_error_and_never_ranked(tmp_path):
    evaluator = FakeEvaluator(fail=lambda g: g.hash < "8")
    config, storage, search = _search(tmp_path, evaluator=evaluator, generations=1)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    inds = [i for g in storage.load_generations(run.id) for i in g.individuals]
    failed = [i for i in inds if i.status == "failed"]
    assert failed and all(i.error == "gate: fake failure" and i.metrics.acc is None for i in failed)
    assert best_individual(storage.load_generations(run.id)).status != "failed"


def test_random_search_draws_every_generation_afresh(tmp_path):
    config, storage, search = _search(tmp_path, strategy="random", generations=2)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    assert len(gens) == 3 and all(len(g.individuals) == config.n_offspring for g in gens[1:])
    assert all(i.operator == "random" and i.parents == () for g in gens[1:] for i in g.individuals)
    # drawn afresh: no later generation repeats a genome the run already had
    seen = {i.hash for i in gens[0].individuals}
    for g in gens[1:]:
        assert not seen & {i.hash for i in g.individuals if i.status != "cached"}
        seen |= {i.hash for i in g.individuals}


def test_a_time_budget_stops_starting_generations_and_resuming_carries_on(tmp_path):
    # a budget of ten-odd generations of ~0.12 s, so a loaded machine still sees several
    config = RunConfig(name="r", db=str(tmp_path / "t.db"), population=6, reevaluate=0, time_budget=1.5)
    assert config.generations == 100_000  # no generations named: until the time is spent
    storage = SQLStorage(config.db)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search = Search(config, SPACE, SHAPE, storage, FakeEvaluator(delay=0.02))
    search.run(run)  # each generation takes ~0.12 s
    gens = storage.load_generations(run.id)
    assert 2 <= len(gens) <= 13
    assert search.stop_reason is not None and search.stop_reason.startswith("time budget of 2s spent")
    more = Search(config, SPACE, SHAPE, storage, FakeEvaluator(delay=0.02))
    more.run(run, gens)  # a new driver, a new clock: it carries on from the stored generations
    assert len(storage.load_generations(run.id)) > len(gens)


def test_the_time_budget_accepts_durations_and_refuses_nonsense():
    assert RunConfig(time_budget="45m").time_budget == 2700
    assert RunConfig(time_budget="1h30m", generations=3).generations == 3
    assert RunConfig(time_budget=900).time_budget == 900
    with pytest.raises(ValueError, match="duration such as 900s"):
        RunConfig(time_budget="soon")


def test_seeded_genomes_start_generation_zero_and_random_ones_fill_it(tmp_path):
    seeds = ("kcae", "c8k3-pmax-d4+aug:strong,noise:0.3,lr:0.0003", "c200k3-d300")  # 200 > max_channels
    config, storage, search = _search(tmp_path, generations=1, seed_genomes=seeds)
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    search.run(run)
    gen0 = storage.load_generations(run.id)[0].individuals
    first = [Genome.from_json(i.genome) for i in gen0[:3]]
    assert [i.operator for i in gen0[:3]] == ["seed"] * 3 and all(i.operator == "init" for i in gen0[3:])
    assert first[0].genes == Genome.from_compact("c128k3-pmax-c64k3-pmax-c32k3-pmax-d512").genes
    assert first[0].recipe == Recipe(lr=config.budget.lr)  # no recipe given: the default one
    assert first[1].recipe == Recipe(augment="strong", noise=0.3, lr=3e-4)  # its own
    assert first[2].genes[0].channels == 200  # valid for the images, outside the sampling ranges
    assert len(gen0) == 6 and len({i.hash for i in gen0}) == 6


def test_a_bad_seed_genome_is_refused_naming_it(tmp_path):
    from evonas.errors import InvalidGenomeError

    config, storage, search = _search(tmp_path, seed_genomes=("resnet50",))
    run = storage.create_run("r", config.model_dump(mode="json"), 0)
    with pytest.raises(InvalidGenomeError, match="'resnet50' is neither a reference"):
        search.run(run)


def test_seed_from_takes_the_best_genomes_of_another_run(tmp_path):
    from evonas.nas.runner import best_genomes_of

    config, storage, search = _search(tmp_path, generations=1)
    run = storage.create_run("before", config.model_dump(mode="json"), 0)
    search.run(run)
    ranked = sorted(
        {i.hash: i for g in storage.load_generations(run.id) for i in g.individuals if i.complete}.values(),
        key=lambda r: -r.score,
    )
    top = best_genomes_of(config.db, "before", 2)
    assert top == [Genome.from_json(r.genome).compact() for r in ranked[:2]]


def test_the_objective_decides_what_is_best_and_every_record_keeps_it(tmp_path):
    (tmp_path / "acc").mkdir()
    (tmp_path / "nmi").mkdir()
    by_acc = _search(tmp_path / "acc", name="a")
    by_nmi = _search(tmp_path / "nmi", name="n", budget={"objective": "nmi"})
    picked = {}
    for label, (config, storage, search) in {"acc": by_acc, "nmi": by_nmi}.items():
        run = storage.create_run(config.name, config.model_dump(mode="json"), 0)
        search.run(run)
        records = [i for g in storage.load_generations(run.id) for i in g.individuals]
        assert {r.objective for r in records} == {label}  # stored and read back
        complete = [r for r in records if r.complete]
        assert search.best is not None
        assert search.best.score == max(getattr(r.metrics, label) for r in complete)
        picked[label] = search.best.hash
    assert picked["acc"] != picked["nmi"]  # the fake's NMI ranks genomes otherwise than its ACC
