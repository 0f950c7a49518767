"""Process-tree memory sampling from /proc (Linux), for benchmarks that run `nas` as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        stack += _children(p)
    return pids


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_total_mib = 0.0
        self.peak_root_mib = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.pid)
            total = sum(_rss_kib(p) for p in pids) / 1024
            self.peak_total_mib = max(self.peak_total_mib, total)
            self.peak_root_mib = max(self.peak_root_mib, _rss_kib(self.pid) / 1024)
            self.peak_processes = max(self.peak_processes, len(pids))
            time.sleep(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def machine() -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "commit": commit,
    }


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the results file ``out`` (``out.lock``) while reading and writing it."""
    import fcntl

    out.parent.mkdir(exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def append_row(out: Path, doc: dict[str, Any], row: dict[str, Any]) -> None:
    """Add ``row`` to a results document and write it at once, so a stopped benchmark keeps it.

    The file is read again under an exclusive lock, so two processes appending side by side keep
    each other's rows; ``doc`` is left holding what was written."""
    print(json.dumps(row), flush=True)
    with _locked(out):
        latest = json.loads(out.read_text()) if out.exists() else dict(doc)
        latest["rows"] = [*latest.get("rows", []), row]
        latest.update(machine())
        out.write_text(json.dumps(latest, indent=2) + "\n")
    doc.clear()
    doc.update(latest)


def merge_row(out: Path, key: str, row: dict[str, Any]) -> None:
    """Set ``runs[key]`` of a results document under an exclusive lock, so benchmark processes run
    side by side never overwrite each other's rows (read, update and write happen while locked)."""
    with _locked(out):
        doc = json.loads(out.read_text()) if out.exists() else {"runs": {}}
        doc["runs"][key] = {**row, **machine()}
        out.write_text(json.dumps(doc, indent=2) + "\n")


def dataset_flags(flags: list[str]) -> list[str]:
    """The --dataset/--data-dir/--layout pairs of the nas run flags, for nas train."""
    out = []
    for i, flag in enumerate(flags):
        if flag in ("--dataset", "--data-dir", "--layout") and i + 1 < len(flags):
            out += [flag, flags[i + 1]]
    return out
