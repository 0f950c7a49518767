"""Whether a run marked running still has a live driver: its heartbeat decides."""

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta

from evonas.nas.runner import HEARTBEAT_STALE, Heartbeat, driver_state
from evonas.storage import RunInfo, SQLStorage


def test_liveness_is_decided_by_the_heartbeat_and_a_local_process_check():
    now = datetime(2026, 1, 1, 12, 0, 0)
    here = socket.gethostname()

    def run(owner, beat):
        return RunInfo(1, "r", "running", 0, {}, "x", now, now, owner=owner, heartbeat_at=beat)

    assert driver_state(run("far:1", now - timedelta(seconds=5)), now)[0]
    assert not driver_state(run("far:1", now - timedelta(seconds=HEARTBEAT_STALE + 1)), now)[0]
    assert not driver_state(run("far:1", None), now)[0]
    # on this machine an ended process is gone at once, whatever its heartbeat says
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    alive, why = driver_state(run(f"{here}:{int(ended.stdout)}", now), now)
    assert not alive and "has ended" in why
    assert driver_state(run(f"{here}:{os.getpid()}", now), now)[0]
    # a process merely named like nas no longer counts: only the heartbeat does
    assert not driver_state(run(f"{here}:{os.getpid()}", now - timedelta(hours=1)), now)[0]


def test_the_heartbeat_thread_refreshes_the_run_while_it_works(tmp_path):
    with SQLStorage(str(tmp_path / "h.db")) as storage:
        run = storage.create_run("h", {}, 0)
        first = storage.get_run(run.id).heartbeat_at
        import time

        with Heartbeat(storage, run.id, every=0.05):
            time.sleep(0.3)
        assert storage.get_run(run.id).heartbeat_at > first
