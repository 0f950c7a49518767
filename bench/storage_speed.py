"""Benchmark: how fast the storage takes journaled evaluations, and how long `nas status` takes,
on SQLite and on PostgreSQL, with one and with several writers (issue 16's bench line).

Each writer is a process with its own run that journals ``--evaluations`` evaluations (a real
``EvalResult`` payload, as the driver journals one per finished evaluation) and stores a generation
every 10 of them; meanwhile a reader process calls what `nas status` calls
(``progress_from_storage``) on the first run in a loop. Reported: evaluations journaled per second
over all writers, and the reader's median and 95th-percentile latency. PostgreSQL is a server
started for the benchmark (``tests/postgres.py``: initdb and pg_ctl on 127.0.0.1).

    .venv/bin/python bench/storage_speed.py --writers 1,4 --evaluations 1000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from _proc import machine  # noqa: E402 - after the path it is found on

if TYPE_CHECKING:
    from evonas.storage import IndividualRecord

RESULTS = Path(__file__).parent / "results"


def _payload(i: int) -> str:
    from evonas.metrics import Metrics
    from evonas.workers import EvalResult

    metrics = Metrics(
        acc=0.5 + i * 1e-4, nmi=0.5, ari=0.4, recon_loss=0.02, baseline_loss=0.07, params=50_000
    )
    return EvalResult(status="ok", metrics=metrics, seconds=60.0, seed=i).model_dump_json()


def _record(h: str) -> IndividualRecord:
    from evonas.metrics import Metrics
    from evonas.storage import IndividualRecord

    return IndividualRecord(hash=h, genome="{}", parents=(), operator="init", status="ok", seed=1,
                            metrics=Metrics(acc=0.5), seconds=60.0)  # fmt: skip


def _writer(url: str, name: str, n: int, start: mp.Event, out: mp.Queue) -> None:
    from evonas.storage import GenerationRecord, SQLStorage
    from evonas.views.progress import StoredProgress

    with SQLStorage(url) as storage:
        run = storage.create_run(name, {"generations": n // 10, "population": 10}, seed=0)
        storage.update_progress(run.id, StoredProgress(0, 10, 0, 10, 2, "2026-11-30T00:00:00", 0).to_json())
        payloads = [_payload(i) for i in range(n)]
        start.wait()
        t0 = time.perf_counter()
        for i, payload in enumerate(payloads):
            generation = i // 10
            storage.journal_evaluation(run.id, generation, f"h{i}", payload)
            if i % 10 == 9:
                inds = tuple(_record(f"h{j}") for j in range(i - 9, i + 1))
                population = tuple(r.hash for r in inds[:4])
                storage.record_generation(run.id, GenerationRecord(generation, population, inds, 600.0))
                progress = StoredProgress(generation + 1, 10, 0, 10, 2, "2026-11-30T00:00:00", i + 1)
                storage.update_progress(run.id, progress.to_json())
        out.put(time.perf_counter() - t0)


def _reader(url: str, name: str, ready: mp.Event, stop: mp.Event, out: mp.Queue) -> None:
    from evonas.storage import SQLStorage
    from evonas.views.progress import progress_from_storage

    latencies = []
    with SQLStorage(url, create=False) as storage:
        progress_from_storage(storage, name)  # warm: imports and the first connection
        ready.set()
        while not stop.is_set():
            t0 = time.perf_counter()
            progress_from_storage(storage, name)
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.05)
    out.put(latencies)


def measure(url: str, writers: int, evaluations: int) -> dict[str, object]:
    from evonas.storage import SQLStorage

    SQLStorage(url).close()  # the schema, before anyone races for it
    ctx = mp.get_context("spawn")
    start, stop, ready = ctx.Event(), ctx.Event(), ctx.Event()
    done: mp.Queue = ctx.Queue()
    lat: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, f"w{w}", evaluations, start, done)) for w in range(writers)
    ]
    for p in procs:
        p.start()
    time.sleep(3.0)  # every writer has created its run
    reader = ctx.Process(target=_reader, args=(url, "w0", ready, stop, lat))
    reader.start()
    ready.wait(60)
    t0 = time.perf_counter()
    start.set()
    seconds = []
    while len(seconds) < len(procs):  # a writer that died says so instead of leaving us waiting
        try:
            seconds.append(done.get(timeout=1.0))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                stop.set()
                raise SystemExit("a writer failed: see its traceback above") from None
    wall = time.perf_counter() - t0
    stop.set()
    latencies = lat.get(timeout=60)
    for p in [*procs, reader]:
        p.join(60)
    quantiles = statistics.quantiles(latencies, n=20) if len(latencies) >= 20 else [max(latencies)] * 19
    return {
        "writers": writers,
        "evaluations_per_writer": evaluations,
        "journaled_per_s": round(writers * evaluations / wall, 1),
        "slowest_writer_s": round(max(seconds), 2),
        "status_calls": len(latencies),
        "status_median_ms": round(1000 * statistics.median(latencies), 1),
        "status_p95_ms": round(1000 * quantiles[18], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", default="1,4")
    parser.add_argument("--evaluations", type=int, default=1000, help="per writer")
    args = parser.parse_args()
    from tests.postgres import PostgresServer

    rows = []
    pg = PostgresServer()
    try:
        for writers in (int(w) for w in args.writers.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append({"backend": "sqlite", **measure(f"{tmp}/bench.db", writers, args.evaluations)})
            print(json.dumps(rows[-1]), flush=True)
            rows.append({"backend": "postgresql", **measure(pg.new_database(), writers, args.evaluations)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        pg.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "storage_speed.json").write_text(json.dumps({**machine(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
