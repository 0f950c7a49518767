"""Whether a run marked running still has a live driver: its heartbeat decides."""

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta

from evonas.nas.runner import Heartbeat
from evonas.storage import RunInfo, SQLStorage
from evonas.storage.liveness import HEARTBEAT_STALE, driver_state, shown_status


def test_liveness_is_decided_by_the_heartbeat_and_a_local_process_check():
    now = datetime(2026, 1, 1, 12, 0, 0)
    here = socket.gethostname()

    def run(owner, beat):
        return RunInfo(1, "r", "running", 0, {}, "x", now, now, owner=owner, heartbeat_at=beat)

    assert driver_state(run("far:1", now - timedelta(seconds=5)), now).alive
    assert not driver_state(run("far:1", now - timedelta(seconds=HEARTBEAT_STALE + 1)), now).alive
    assert not driver_state(run("far:1", None), now).alive
    # on this machine an ended process is gone at once, whatever its heartbeat says
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    state = driver_state(run(f"{here}:{int(ended.stdout)}", now), now)
    assert not state.alive and "has ended" in state.reason
    assert driver_state(run(f"{here}:{os.getpid()}", now), now).alive
    # a process merely named like nas no longer counts: only the heartbeat does
    assert not driver_state(run(f"{here}:{os.getpid()}", now - timedelta(hours=1)), now).alive


def test_the_heartbeat_thread_refreshes_the_run_while_it_works(tmp_path):
    with SQLStorage(str(tmp_path / "h.db")) as storage:
        run = storage.create_run("h", {}, 0)
        first = storage.get_run(run.id).heartbeat_at
        with Heartbeat(storage, run.id, every=0.05):
            deadline = time.monotonic() + 30
            while storage.get_run(run.id).heartbeat_at <= first and time.monotonic() < deadline:
                time.sleep(0.02)  # poll the condition (a deadline, not a fixed sleep)
        assert storage.get_run(run.id).heartbeat_at > first


def test_a_running_run_whose_driver_is_gone_is_shown_stale_with_its_heartbeats_age():
    now = datetime(2026, 1, 1, 12, 0, 0)

    def run(status, beat, owner="far:1"):
        return RunInfo(1, "r", status, 0, {}, "x", now, now, owner=owner, heartbeat_at=beat)

    assert shown_status(run("running", now - timedelta(seconds=5)), now) == "running"
    assert shown_status(run("running", now - timedelta(seconds=252)), now) == "stale (heartbeat 4m12s ago)"
    assert shown_status(run("running", None), now) == "stale (no heartbeat)"
    # a finished run is shown as stored, however old its last heartbeat
    assert shown_status(run("finished", now - timedelta(days=3)), now) == "finished"
