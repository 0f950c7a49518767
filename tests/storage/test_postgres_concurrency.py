"""Several writers on one PostgreSQL database: no row lost, none duplicated, name races settled by
the unique constraint (never by check-then-insert)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from evonas.errors import StorageError
from evonas.metrics import Metrics
from evonas.storage import GenerationRecord, IndividualRecord, SQLStorage

WRITERS = 4
RUNS_EACH = 6


def _ind(h: str) -> IndividualRecord:
    return IndividualRecord(hash=h, genome="{}", parents=(), operator="init", status="ok", seed=1,
                            metrics=Metrics(acc=0.5), seconds=0.1)  # fmt: skip


def _writer(url: str, writer: int, out: mp.Queue) -> None:
    won, lost = 0, 0
    with SQLStorage(url) as storage:  # every writer also races to create the schema
        for r in range(RUNS_EACH):
            run = storage.create_run(f"w{writer}-{r}", {}, seed=r)
            for g in range(3):
                storage.journal_evaluation(run.id, g, f"h{g}", "{}")
                storage.record_generation(run.id, GenerationRecord(g, (f"h{g}",), (_ind(f"h{g}"), _ind("x"))))
            try:  # every writer tries to create the same run names: exactly one may win each
                storage.create_run(f"shared-{r}", {}, seed=0)
                won += 1
            except StorageError as exc:
                assert "already exists" in str(exc)
                lost += 1
    out.put((won, lost))


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(pg_url):
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(pg_url, w, out)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    results = [out.get(timeout=5) for _ in procs]
    assert sum(w for w, _ in results) == RUNS_EACH  # each shared name created exactly once
    assert sum(lost for _, lost in results) == RUNS_EACH * (WRITERS - 1)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT count(*), count(DISTINCT name), count(DISTINCT uid) FROM runs")
        ).one()
        gens = conn.execute(text("SELECT count(*) FROM generations")).scalar()
        inds = conn.execute(text("SELECT count(*) FROM individuals")).scalar()
        journal = conn.execute(text("SELECT count(*) FROM evaluation_journal")).scalar()
    engine.dispose()
    own = WRITERS * RUNS_EACH
    assert tuple(runs) == (own + RUNS_EACH,) * 3
    assert gens == own * 3 and inds == own * 3 * 2 and journal == 0  # each journal cleared by its generation


@pytest.mark.slow
def test_several_nas_runs_share_one_postgresql_database(pg_url, ray_cluster, tmp_path):
    """Real `nas run` processes at once on one Ray cluster, writing to one PostgreSQL database."""
    address = ray_cluster.get_runtime_context().gcs_address
    url = pg_url.replace("://evonas@", "://evonas:s3cret-pw@")  # trust auth: a password never checked
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "EVONAS_DB": url}
    names = ["one", "two"]
    weights = str(tmp_path / "shared-weights")

    def start(i: int, name: str) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "evonas.cli", "run", "--quiet", "--name", name, "--address", address,
               "--population", "3", "--generations", "0", "--epochs", "5", "--lr", "0.01", "--seed", str(i),
               "--weights-dir", weights]  # fmt: skip
        return subprocess.Popen(
            cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    procs = [start(i, name) for i, name in enumerate(names)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "s3cret-pw" not in err
    for name in names:
        show = subprocess.run([sys.executable, "-m", "evonas.cli", "show", name, "--json"],
                              env=env, capture_output=True, text=True, check=True)  # fmt: skip
        assert "s3cret-pw" not in show.stdout  # the stored configuration keeps the URL masked
        run = json.loads(show.stdout)
        assert run["status"] == "finished" and [g["index"] for g in run["generations"]] == [0]
        hashes = [i["hash"] for g in run["generations"] for i in g["evaluated"]]
        assert len(run["generations"][0]["evaluated"]) == 3
        exported = subprocess.run(
            [sys.executable, "-m", "evonas.cli", "export", name, "--out", str(tmp_path / f"b-{name}")],
            env=env, capture_output=True, text=True, cwd="/",  # another folder: the shared weights are found
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        assert len(hashes) >= 3
