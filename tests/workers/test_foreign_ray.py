"""`nas run` beside a Ray cluster it did not start: a live one (`ray start --head` on 127.0.0.1)
and a dead one that left its address file behind. Without --address nas starts an isolated
instance of its own; with --address auto it joins the running one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONUNBUFFERED": "1"}
ENV.pop("RAY_ADDRESS", None)
RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
ADDRESS_FILE = Path("/tmp/ray/ray_current_cluster")


def _nas(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas.nas.cli", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _search(db: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return _nas("run", "--db", str(db), "--name", name, "--population", "2", "--generations", "0",
                "--epochs", "2", "--reevaluate", "0", "--cpus", "1", "--quiet", *extra)  # fmt: skip


@pytest.fixture
def ray_head():
    """A real Ray head on 127.0.0.1, started as a user would, stopped afterwards."""
    start = subprocess.run(
        [RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", "6399", "--num-cpus", "1",
         "--include-dashboard", "false", "--disable-usage-stats"],
        env=ENV, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert start.returncode == 0, start.stderr
    try:
        yield "127.0.0.1:6399"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, timeout=120)


def test_a_running_ray_head_is_left_alone_unless_asked_to_join(tmp_path, ray_head):
    db = tmp_path / "r.db"
    alone = _search(db, "alone")
    assert alone.returncode == 0, alone.stderr
    joined = _search(db, "joined", "--address", "auto")
    assert joined.returncode == 0, joined.stderr
    log = (tmp_path / "r.log").read_text()
    assert "Connecting to existing Ray cluster" in log or "Connected to Ray cluster" in log


def test_a_dead_clusters_address_file_is_ignored(tmp_path):
    existed = ADDRESS_FILE.exists()
    backup = ADDRESS_FILE.read_text() if existed else None
    ADDRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
    ADDRESS_FILE.write_text("127.0.0.1:6398")  # what a killed `ray start` leaves behind
    try:
        res = _search(tmp_path / "d.db", "after-dead")
        assert res.returncode == 0, res.stderr
    finally:
        if backup is not None:
            ADDRESS_FILE.write_text(backup)
        else:
            ADDRESS_FILE.unlink(missing_ok=True)
