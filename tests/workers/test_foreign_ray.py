"""`nas run` beside a Ray cluster it did not start: a live one (`ray start --head` on 127.0.0.1)
and a dead one that left its address file behind. Without --address nas starts an isolated
instance of its own; with --address auto it joins the running one."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONUNBUFFERED": "1"}
ENV.pop("RAY_ADDRESS", None)
RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
ADDRESS_FILE = Path("/tmp/ray/ray_current_cluster")


def _nas(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas.cli", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _search(db: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return _nas("run", "--db", str(db), "--name", name, "--population", "2", "--generations", "0",
                "--epochs", "2", "--reevaluate", "0", "--cpus", "1", "--quiet", *extra)  # fmt: skip


@contextlib.contextmanager
def address_file_kept() -> Iterator[None]:
    """Put Ray's address file back as it was (or remove it if there was none) when the block ends."""
    before = ADDRESS_FILE.read_text() if ADDRESS_FILE.exists() else None
    try:
        yield
    finally:
        if before is None:
            ADDRESS_FILE.unlink(missing_ok=True)
        else:
            ADDRESS_FILE.write_text(before)


@contextlib.contextmanager
def foreign_head(work: Path) -> Iterator[str]:
    """A real Ray head on 127.0.0.1, started as a user would (`ray start --head --block`), and
    stopped afterwards by signalling that command alone: never `ray stop`, which kills every Ray
    process on the machine, this test session's own instance included."""
    out = work / "ray-start.out"
    with address_file_kept():
        with out.open("w") as sink:
            head = subprocess.Popen(
                [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", "6399",
                 "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats"],
                env=ENV, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while "Ray runtime started" not in out.read_text():
                assert head.poll() is None, out.read_text()
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.5)
            yield "127.0.0.1:6399"
        finally:
            head.terminate()  # `--block` shuts its own node down on SIGTERM
            with contextlib.suppress(subprocess.TimeoutExpired):
                head.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)  # whatever of its group outlived it


@pytest.fixture
def ray_head(tmp_path):
    with foreign_head(tmp_path) as address:
        yield address


def test_stopping_the_foreign_head_leaves_this_sessions_ray_running(tmp_path, ray_cluster):
    """The fixture's teardown once ran `ray stop --force`, which also killed the session's own
    raylet; the pytest process then exited mid-suite when the machine was slow enough for Ray to notice."""
    ray = ray_cluster
    own = {
        name: [p.process for p in procs]
        for name, procs in ray._private.worker._global_node.all_processes.items()
    }
    assert own.get("raylet"), "the session's Ray has no raylet of its own to check"
    with foreign_head(tmp_path):
        pass
    # the foreign head is gone (its command waited on, its group killed): the session's own Ray
    # processes are all still running, checked directly rather than by waiting for Ray to notice
    assert {name: [p.poll() for p in procs] for name, procs in own.items()} == {
        name: [None] * len(procs) for name, procs in own.items()
    }

    @ray.remote
    def one() -> int:
        return 1

    assert ray.get(one.remote(), timeout=120) == 1


def test_a_running_ray_head_is_left_alone_unless_asked_to_join(tmp_path, ray_head):
    db = tmp_path / "r.db"
    alone = _search(db, "alone")
    assert alone.returncode == 0, alone.stderr
    joined = _search(db, "joined", "--address", "auto")
    assert joined.returncode == 0, joined.stderr
    log = (tmp_path / "r.log").read_text()
    assert "Connecting to existing Ray cluster" in log or "Connected to Ray cluster" in log


def test_a_dead_clusters_address_file_is_ignored(tmp_path):
    with address_file_kept():
        ADDRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
        ADDRESS_FILE.write_text("127.0.0.1:6398")  # what a killed `ray start` leaves behind
        res = _search(tmp_path / "d.db", "after-dead")
        assert res.returncode == 0, res.stderr
