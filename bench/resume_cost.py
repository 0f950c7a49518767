"""Benchmark: what a SIGKILL costs and how fast `nas resume` gets going again (digits defaults).

Starts `nas run --generations 3` on the built-in digits, SIGKILLs the driver once generation 2
has journaled its first finished evaluation, then runs `nas resume`. Reports the evaluations
kept by the journal, the evaluations run again, the time from launching `nas resume` to its
first dispatch (its first "generation 2/3 | ..." progress line) next to the same figure for `nas run`,
and the resume's wall time. Writes bench/results/resume_cost.json.

    .venv/bin/python bench/resume_cost.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from _proc import machine, tree

RESULTS = Path(__file__).parent / "results"
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def nas(*args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "evonas.cli", *args]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count(db: Path, sql: str, *params: object) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute(sql, params).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


GENS = "SELECT COUNT(*) FROM generations g JOIN runs r ON g.run_id = r.id WHERE r.name = ?"
JOURNAL = (
    "SELECT COUNT(*) FROM evaluation_journal j JOIN runs r ON j.run_id = r.id "
    "WHERE r.name = ? AND j.generation = ?"
)


def time_to_line(proc: subprocess.Popen, pattern: str, start: float) -> tuple[float, str]:
    """Seconds from ``start`` until ``proc`` writes a stderr line matching ``pattern``."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if re.search(pattern, line):
            return time.perf_counter() - start, line
    raise SystemExit(f"no line matching {pattern!r}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        victim = nas("run", "--name", "victim", "--generations", "3", "--db", str(db))
        run_first_dispatch, _ = time_to_line(victim, r"generation 0/3 \|", start)
        while count(db, GENS, "victim") < 2 or count(db, JOURNAL, "victim", 2) == 0:
            assert victim.poll() is None
            time.sleep(0.02)
        killed_at = time.perf_counter() - start
        family = tree(victim.pid)[1:]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kept = count(db, JOURNAL, "victim", 2)
        stored = count(db, GENS, "victim")

        start = time.perf_counter()
        resume = nas("resume", "victim", "--db", str(db))
        resume_first_dispatch, line = time_to_line(resume, r"generation 2/3 \|", start)
        done, total = map(int, re.search(r"(\d+)/(\d+) done", line).groups())
        rerun = total - done
        _, err = resume.communicate()
        resume_wall = time.perf_counter() - start
        if resume.returncode != 0:
            raise SystemExit(err)
    result = {
        **machine(),
        "population": 10,
        "killed_after_s": round(killed_at, 1),
        "generations_stored_at_kill": stored,
        "evaluations_kept_by_journal": kept,
        "evaluations_run_again": rerun,
        "run_time_to_first_dispatch_s": round(run_first_dispatch, 1),
        "resume_time_to_first_dispatch_s": round(resume_first_dispatch, 1),
        "resume_wall_s": round(resume_wall, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resume_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
