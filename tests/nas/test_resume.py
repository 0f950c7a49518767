"""Resume exactly, whatever stopped the run; never train the same genome twice.

In-process runs share the session's Ray instance; the SIGKILL / SIGINT / concurrency tests run
`nas` as real subprocesses against one SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evonas.errors import ConfigError, NASError
from evonas.nas import DatasetConfig, RunConfig, resume_search, run_search
from evonas.storage import GenerationRecord, SQLStorage
from evonas.storage.liveness import HEARTBEAT_STALE

from ..conftest import TINY_BUDGET, interruptible

pytestmark = pytest.mark.slow

DATA = DatasetConfig(subset=300, val_size=200)
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def essence(gens: list[GenerationRecord]) -> list:
    """What must be identical between runs of one seed: everything but timings and Ray node ids."""
    return [
        (
            g.index,
            g.population,
            [
                (
                    i.hash,
                    i.parents,
                    i.operator,
                    i.status,
                    i.seed,
                    i.metrics,
                    i.error,
                    i.rung_acc,
                    i.rung_scores,
                    i.pruned_at,
                    [{k: v for k, v in e.items() if k != "seconds"} for e in i.evaluations],
                )
                for i in g.individuals
            ],
        )
        for g in gens
    ]


def stored(db: Path | str, name: str) -> tuple[str, list[GenerationRecord]]:
    s = SQLStorage(str(db), create=False)
    try:
        run = s.get_run(name)
        return run.status, s.load_generations(run.id)
    finally:
        s.close()


def config(db: Path, name: str, generations: int, **kw) -> RunConfig:
    options = {"population": 4, "seed": 11, "budget": TINY_BUDGET, "dataset": DATA, **kw}
    return RunConfig(name=name, generations=generations, db=str(db), **options)


# -- in-process ---------------------------------------------------------------------------------
def test_run_two_then_resume_to_four_equals_running_four(tmp_path, ray_cluster):
    # with pruning (a strict bar, so that this small run prunes) and second-seed re-evaluations:
    # both depend only on stored state, so a resumed run repeats the uninterrupted one
    strict = {"min_steps": 0, "quantile": 0.75, "margin": 0.0}
    db = tmp_path / "r.db"
    run_search(config(db, "whole", 4, pruning=strict))
    part = run_search(config(db, "part", 2, pruning=strict))
    assert part.status == "finished"
    resumed = resume_search("part", str(db), generations=4)
    assert resumed.status == "finished" and resumed.config["generations"] == 4
    whole = stored(db, "whole")[1]
    assert essence(stored(db, "part")[1]) == essence(whole)
    assert len(stored(db, "part")[1]) == 5
    assert any(i.status == "pruned" for g in whole for i in g.individuals)
    assert any(i.evaluations for g in whole for i in g.individuals)


def test_a_finished_run_needs_more_generations_to_resume(tmp_path, ray_cluster):
    db = tmp_path / "f.db"
    run_search(config(db, "done", 1))
    with pytest.raises(NASError, match=r"finished with generations 0\.\.1; pass --generations N"):
        resume_search("done", str(db))
    with pytest.raises(ConfigError, match="must be >= 1"):
        resume_search("done", str(db), generations=0)


def test_reuse_across_runs_trains_each_distinct_genome_once(tmp_path, ray_cluster):
    db = tmp_path / "c.db"
    run_search(config(db, "first", 2))
    run_search(config(db, "second", 3, seed=12), reuse=True)  # another seed: partly new genomes
    run_search(config(db, "third", 2), reuse=True)  # the first run again: nothing to train
    _, third = stored(db, "third")
    assert all(i.status == "cached" for g in third for i in g.individuals)
    every = [i for name in ("first", "second", "third") for g in stored(db, name)[1] for i in g.individuals]
    trained = [i.hash for i in every if i.status != "cached"]
    assert len(trained) == len({i.hash for i in every})
    # a cached individual carries the metrics of the evaluation it reuses
    first_metrics = {i.hash: i.metrics for g in stored(db, "first")[1] for i in g.individuals}
    assert all(i.metrics == first_metrics[i.hash] for g in third for i in g.individuals)


def test_reuse_needs_the_same_data_and_budget(tmp_path, ray_cluster):
    db = tmp_path / "k.db"
    run_search(config(db, "a", 0))
    other_budget = TINY_BUDGET.model_copy(update={"epochs": TINY_BUDGET.epochs + 1})
    run_search(config(db, "b", 0, budget=other_budget), reuse=True)
    assert all(i.status != "cached" for g in stored(db, "b")[1] for i in g.individuals)


def test_a_stored_config_that_no_longer_validates_is_refused(tmp_path, ray_cluster):
    db = tmp_path / "v.db"
    run_search(config(db, "old", 0))
    with sqlite3.connect(db) as conn:
        conn.execute("""UPDATE runs SET config = json_set(config, '$.population', 1) WHERE name = 'old'""")
    with pytest.raises(ConfigError, match="no longer validates.*'population'.*start a new run"):
        resume_search("old", str(db), generations=2)
    assert len(stored(db, "old")[1]) == 1  # nothing changed


def test_a_run_whose_driver_is_alive_is_not_taken_over(tmp_path, ray_cluster):
    db = tmp_path / "o.db"
    run_search(config(db, "busy", 0))
    # a driver elsewhere whose heartbeat is fresh: refused, --force or not
    now = datetime.now(UTC).replace(tzinfo=None)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE runs SET status='running', owner='other-host:123', heartbeat_at=? WHERE name='busy'",
            (now.isoformat(sep=" "),),
        )
    conn.close()
    with pytest.raises(NASError, match="still running: its driver other-host:123 recorded a heartbeat"):
        resume_search("busy", str(db), generations=1)
    # a driver whose heartbeat went stale is gone: taken over without --force
    stale = now - timedelta(seconds=HEARTBEAT_STALE + 5)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET heartbeat_at=? WHERE name='busy'", (stale.isoformat(sep=" "),))
    conn.close()
    assert resume_search("busy", str(db), generations=1).status == "finished"


# -- subprocesses -------------------------------------------------------------------------------
CONFIG_TOML = """
population = 4
generations = {generations}
seed = 21
cpus = 2
reevaluate = 0
[dataset]
subset = 300
val_size = 200
[budget]
epochs = 12
batch_size = 32
lr = 0.01
kmeans_n_init = 2
"""


_STARTED: list[subprocess.Popen] = []


def nas(*args: str, **kw) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "evonas.cli", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible, **kw)  # fmt: skip
    _STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_orphans():
    """A test that fails (or times out) must not leave `nas` drivers and their Ray behind."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            for pid in [*descendants(proc.pid), proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=30)


def generations_stored(db: Path, name: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM generations g JOIN runs r ON g.run_id = r.id WHERE r.name = ?", (name,)
            ).fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    return int(row[0])


def wait_for_generations(proc: subprocess.Popen, db: Path, name: str, n: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while generations_stored(db, name) < n:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"generation {n - 1} not stored in {timeout} s"
        time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            stack += kids
    return out


def journaled(db: Path, name: str, generation: int) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM evaluation_journal j JOIN runs r ON j.run_id = r.id "
            "WHERE r.name = ? AND j.generation = ?",
            (name, generation),
        ).fetchone()
    return int(row[0])


def test_sigkill_mid_generation_then_resume_equals_an_uninterrupted_run(tmp_path):
    cfg = tmp_path / "run.toml"
    # one evaluation at a time: once generation 2 journals its first evaluation, the next one is
    # still training, so the kill lands mid-generation even on a busy machine (with two workers
    # running side by side, both could finish between two polls and the generation be stored)
    toml = CONFIG_TOML.format(generations=3).replace("epochs = 12", "epochs = 40")
    cfg.write_text(toml.replace("cpus = 2", "cpus = 1"))
    db = tmp_path / "kill.db"
    whole = nas("run", "--config", str(cfg), "--name", "whole", "--db", str(db), "--quiet")
    assert whole.wait(timeout=600) == 0, whole.communicate()[1]

    victim = nas("run", "--config", str(cfg), "--name", "victim", "--db", str(db))
    wait_for_generations(victim, db, "victim", 2)  # generations 0 and 1 stored, 2 in flight
    deadline = time.monotonic() + 120
    while journaled(db, "victim", 2) == 0:  # kill once generation 2 has finished some evaluations
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    children = descendants(victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    for pid in children:  # Ray's agents outlive a SIGKILLed driver for a while; tidy them up
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    status, gens = stored(db, "victim")
    assert status == "running" and len(gens) == 2, "generation 2 finished before the kill"
    saved = journaled(db, "victim", 2)

    resume = nas("resume", "victim", "--db", str(db))
    out, err = resume.communicate(timeout=600)
    assert resume.returncode == 0, err
    assert "run victim finished" in out
    status, gens = stored(db, "victim")
    assert status == "finished"
    assert essence(gens) == essence(stored(db, "whole")[1])
    # only the evaluations in flight at the kill ran again
    trained_in_gen2 = len({i.hash for i in gens[2].individuals if i.status != "cached"})
    done, total = map(int, re.search(r"generation 2/3 \| (\d+)/(\d+) done", err).groups())
    rerun = total - done
    assert rerun == trained_in_gen2 - saved
    assert journaled(db, "victim", 2) == 0  # the journal is dropped once the generation is stored


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_promptly_and_marks_the_run_interrupted(tmp_path, sig):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG_TOML.format(generations=20))
    db = tmp_path / "int.db"
    proc = nas("run", "--config", str(cfg), "--name", "stopped", "--db", str(db))
    wait_for_generations(proc, db, "stopped", 1)
    proc.send_signal(sig)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - start < 30
    assert "Traceback" not in err and "ray" not in err.lower()  # no stack dump, Ray's messages in the log
    assert err.strip().splitlines()[-1] == "nas: interrupted"
    status, gens = stored(db, "stopped")
    assert status == "interrupted" and len(gens) >= 1
    assert all(len(g.individuals) == 4 for g in gens)
    resumed = nas("resume", "stopped", "--db", str(db), "--generations", str(len(gens)), "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1]
    assert stored(db, "stopped")[0] == "finished"


def test_two_runs_write_one_database_at_once(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG_TOML.format(generations=2).replace("cpus = 2", "cpus = 1"))
    db = tmp_path / "shared.db"
    procs = [nas("run", "--config", str(cfg), "--name", n, "--db", str(db), "--quiet") for n in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    for name in ("a", "b"):
        status, gens = stored(db, name)
        assert status == "finished" and [g.index for g in gens] == [0, 1, 2]
        assert all(len(g.individuals) == 4 for g in gens)
    assert essence(stored(db, "a")[1]) == essence(stored(db, "b")[1])  # same seed, same results
