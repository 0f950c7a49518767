"""Steady-state mode (regularised evolution with ageing): its logic with the fake evaluator, its
refused combinations, and a real `nas run --mode steady-state` killed and resumed on Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from evonas.genomes import SearchSpace
from evonas.nas import RunConfig
from evonas.nas.steady import SteadyStateSearch
from evonas.statuses import EvalStatus
from evonas.storage import SQLStorage
from evonas.workers.fake import FakeEvaluator

SHAPE = (1, 8, 8)
SPACE = SearchSpace.preset_for(SHAPE)


def _search(tmp_path, evaluator=None, **options):
    config = RunConfig(name="s", db=str(tmp_path / "s.db"), mode="steady-state",
                       **{"population": 5, "generations": 4, **options})  # fmt: skip
    storage = SQLStorage(config.db)
    search = SteadyStateSearch(config, SPACE, SHAPE, storage, evaluator or FakeEvaluator(slots=2))
    return config, storage, search


def test_every_evaluation_is_stored_in_records_of_a_population_each(tmp_path):
    config, storage, search = _search(tmp_path)
    run = storage.create_run("s", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    assert [g.index for g in gens] == [0, 1, 2, 3, 4]
    assert all(len(g.individuals) == 5 for g in gens)  # (generations + 1) x population evaluations
    assert storage.load_journal(run.id, 4) == {}  # each record clears its journal
    assert all(i.operator == "init" for i in gens[0].individuals)
    assert all(i.parents for g in gens[1:] for i in g.individuals)  # children from then on
    # ageing: the population is the newest complete individuals, at most `population` of them
    finished = [i for g in gens for i in g.individuals if i.complete]
    assert list(gens[-1].population) == [i.hash for i in finished[-5:]]
    assert search.best is not None and search.best.score == max(i.score for i in finished)
    # selection pressure: tournament parents score above the individuals they were drawn among
    score = {i.hash: i.score for i in finished}
    parents = [score[p] for g in gens[1:] for i in g.individuals for p in i.parents if p in score]
    assert sum(parents) / len(parents) > sum(score.values()) / len(score)


def test_a_driver_that_dies_loses_only_what_was_running(tmp_path):
    class Dies(FakeEvaluator):
        def __init__(self, after: int) -> None:
            super().__init__(slots=2)
            self.after = after

        def wait_any(self, timeout):
            if len(self.calls) >= self.after:
                raise KeyboardInterrupt  # the driver stops between two results
            return super().wait_any(timeout)

    config, storage, search = _search(tmp_path, evaluator=Dies(after=13))
    run = storage.create_run("s", config.model_dump(mode="json"), 0)
    with pytest.raises(KeyboardInterrupt):
        search.run(run)
    stored = storage.load_generations(run.id)
    journaled = storage.load_journal(run.id, len(stored))
    done_before = {i.hash for g in stored for i in g.individuals} | {k for k in journaled if "@" not in k}
    assert len(stored) == 2 and len(done_before) == 13  # 10 stored, 3 journaled
    _, _, again = _search(tmp_path)
    again.run(storage.get_run("s"), stored)
    gens = storage.load_generations(run.id)
    everything = [i.hash for g in gens for i in g.individuals]
    assert len(gens) == 5 and len(everything) == 25
    assert done_before <= set(everything)  # nothing that finished was lost or evaluated again
    assert len(again.evaluator.calls) == 25 - 13


def test_random_strategy_and_a_time_budget(tmp_path):
    config, storage, search = _search(tmp_path, strategy="random", generations=50, time_budget=0.3,
                                      evaluator=FakeEvaluator(slots=2, delay=0.02))  # fmt: skip
    run = storage.create_run("s", config.model_dump(mode="json"), 0)
    search.run(run)
    gens = storage.load_generations(run.id)
    inds = [i for g in gens for i in g.individuals]
    assert search.stop_reason and "time budget" in search.stop_reason
    assert 0 < len(inds) < 51 * 5 and all(i.operator in ("init", "random") for i in inds)
    assert all(i.status in (EvalStatus.OK, EvalStatus.FAILED) for i in inds)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"selection": "nsga2"}, "needs whole generations"),
        ({"selection": "best"}, "needs whole generations"),
        ({"reevaluate": 2}, "does not re-evaluate"),
        ({"pruning": {"enabled": True}}, "does not prune"),
        ({"offspring": 4}, "one child per finished evaluation"),
    ],
)
def test_combinations_that_need_a_generation_are_refused(options, message):
    with pytest.raises(ValidationError, match=message):
        RunConfig(mode="steady-state", **options)
    config = RunConfig(mode="steady-state", selection="tournament")
    assert config.reevaluate == 0 and not config.pruning.enabled


@pytest.mark.slow
def test_a_real_steady_state_run_survives_a_sigkill(tmp_path):
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    db = str(tmp_path / "ss.db")
    common = ["--db", db, "--quiet"]
    cmd = [sys.executable, "-m", "evonas.cli", "run", "--name", "ss", "--mode", "steady-state",
           "--population", "4", "--generations", "3", "--epochs", "5", "--lr", "0.01", *common]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    finished_before = 0
    while time.monotonic() < deadline:  # kill the driver once 6 evaluations have finished
        time.sleep(0.5)
        try:
            with SQLStorage(db, create=False) as storage:
                run = storage.get_run("ss")
                stored = storage.load_generations(run.id)
                journal = storage.load_journal(run.id, len(stored))
        except Exception:
            continue
        finished_before = sum(len(g.individuals) for g in stored) + sum("@" not in k for k in journal)
        if finished_before >= 6:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
    proc.wait(30)
    assert finished_before >= 6
    with SQLStorage(db, create=False) as storage:
        run = storage.get_run("ss")
        stored = storage.load_generations(run.id)
        journal = storage.load_journal(run.id, len(stored))
    before = {i.hash for g in stored for i in g.individuals} | {k for k in journal if "@" not in k}
    gone_by = time.monotonic() + 60  # every process of the killed group (the driver's Ray too) is gone
    while time.monotonic() < gone_by:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    # the killed run is still marked running, but every read-side command shows it stale
    for command in (["status", "ss"], ["runs"]):
        seen = subprocess.run([sys.executable, "-m", "evonas.cli", *command, "--db", db], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert seen.returncode == 0 and "stale (heartbeat" in seen.stdout, (command, seen.stdout, seen.stderr)
    show_json = [sys.executable, "-m", "evonas.cli", "show", "ss", "--db", db, "--json"]
    killed = json.loads(subprocess.run(show_json, env=env, capture_output=True, text=True, check=True).stdout)
    assert killed["status"] == "running" and killed["shown_status"].startswith("stale")
    out = subprocess.run([sys.executable, "-m", "evonas.cli", "resume", "ss", *common],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    shown = [sys.executable, "-m", "evonas.cli", "show", "ss", "--db", db, "--json"]
    show = json.loads(subprocess.run(shown, env=env, capture_output=True, text=True, check=True).stdout)
    hashes = [i["hash"] for g in show["generations"] for i in g["evaluated"]]
    assert show["status"] == "finished" and len(hashes) == 16
    assert before <= set(hashes)  # every evaluation that had finished before the kill is kept


def test_reuse_is_refused_in_steady_state_mode_before_any_data_loads(tmp_path):
    from evonas.errors import ConfigError
    from evonas.nas import run_search

    config = RunConfig(mode="steady-state", db=str(tmp_path / "r.db"), dataset={"name": "nope"})
    with pytest.raises(ConfigError, match="--reuse works in the generational mode only"):
        run_search(config, reuse=True)
    assert not (tmp_path / "r.db").exists()
