"""Whether the driver of a run marked ``running`` is alive: the one liveness rule.

A live driver refreshes the run's heartbeat every ``HEARTBEAT_SECONDS``. Its heartbeat decides:
younger than ``HEARTBEAT_STALE`` means alive, wherever the driver runs; on this machine a driver
whose process has ended is gone at once, without waiting for the heartbeat to go stale. ``nas
resume`` takes over a run whose driver is gone; ``nas status``, ``nas runs`` and the dashboard show
such a run as stale.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from evonas.clock import duration_text, utc_now
from evonas.statuses import RunStatus
from evonas.storage.records import RunInfo

HEARTBEAT_SECONDS = 10.0  # how often a driver records that it is alive
HEARTBEAT_STALE = 60.0  # a heartbeat older than this means the driver is gone
STALE = "stale"  # how a running run whose driver is gone is shown


@dataclass(frozen=True)
class DriverState:
    alive: bool
    reason: str  # why we think so, for messages
    heartbeat_age: float | None  # seconds since the last heartbeat (None: it has none)


def this_process() -> str:
    """The owner string of a driver in this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def driver_state(run: RunInfo, now: datetime | None = None) -> DriverState:
    """Whether the driver of ``run`` (marked running) is alive, and why we think so."""
    if run.heartbeat_at is None:
        return DriverState(False, "it has no heartbeat", None)
    age = ((now or utc_now()) - run.heartbeat_at).total_seconds()
    host, _, pid = (run.owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _process_exists(int(pid)):
        return DriverState(False, f"its process {pid} on this machine has ended", age)
    if age < HEARTBEAT_STALE:
        return DriverState(True, f"its driver {run.owner} recorded a heartbeat {age:.0f} s ago", age)
    return DriverState(False, f"its last heartbeat is {age:.0f} s old", age)


def shown_status(run: RunInfo, now: datetime | None = None) -> str:
    """The run's status as the read-side shows it: ``running`` only while its driver is alive,
    else ``stale (heartbeat 4m12s ago)``; other statuses as stored."""
    if run.status != RunStatus.RUNNING:
        return str(run.status)
    state = driver_state(run, now)
    if state.alive:
        return str(run.status)
    if state.heartbeat_age is None:
        return f"{STALE} (no heartbeat)"
    return f"{STALE} (heartbeat {duration_text(state.heartbeat_age)} ago)"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
