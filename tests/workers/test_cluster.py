"""Ray clusters on this machine (127.0.0.1 only): fake GPUs, two nodes, killed workers, timeouts.

Each scenario runs in its own process with its own cluster, so it cannot disturb the session's
local Ray instance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evonas.genomes import Genome
from evonas.storage import IndividualRecord
from evonas.workers import evaluate_genome

from ..conftest import TINY_BUDGET

ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def python(script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)  # fmt: skip


def nas(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)  # fmt: skip


def test_a_timeout_is_an_infrastructure_failure_never_reused(digits_data):
    r = evaluate_genome(Genome.from_compact("c16k3-d10"), digits_data, TINY_BUDGET, seed=0, timeout=1e-6)
    assert r.status == "failed" and r.error.startswith("infrastructure: trial timeout")
    rec = IndividualRecord(
        hash="h", genome="", parents=(), operator="", status="failed", seed=0, error=r.error
    )
    assert not rec.reusable


@pytest.mark.slow
def test_half_a_fake_gpu_per_trial_runs_two_at_once_on_the_cpu():
    out = python("""
        import json
        import ray
        from ray.cluster_utils import Cluster
        from evonas.datasets import load_dataset, search_splits
        from evonas.genomes import Genome
        from evonas.workers import Budget, EvalJob, FitnessData, RayEvaluator

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 4, "num_gpus": 1})
        ray.init(address=cluster.address)
        s = search_splits(load_dataset("digits"), val_size=200, test_fraction=0.2, subset=600)
        data = FitnessData(s.train.x, s.val.x, s.val.y, 10)
        jobs = [EvalJob(Genome.from_compact(f"c16k3-d{k}"), k) for k in range(4, 10)]
        with RayEvaluator(data, Budget(epochs=15, batch_size=32), gpus_per_trial=0.5) as ev:
            slots = ev.slots
            results = ev.evaluate(jobs)
        events = sorted([(r.started_at, 1) for r in results] + [(r.finished_at, -1) for r in results])
        running = peak = 0
        for _, step in events:
            running += step
            peak = max(peak, running)
        print(json.dumps({"slots": slots, "peak": peak, "devices": sorted({r.device for r in results}),
                          "status": sorted({r.status for r in results})}))
        ray.shutdown()
        cluster.shutdown()
    """)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["slots"] == 2  # 4 CPUs, but 1 GPU / 0.5 per trial
    assert got["peak"] == 2  # never more than two at once, and two did run together
    assert got["devices"] == ["cpu"] and got["status"] == ["ok"]  # no CUDA here: CPU fallback


@pytest.mark.slow
def test_nas_run_on_a_two_node_cluster_uses_both_nodes(tmp_path):
    address_file = tmp_path / "address"
    cluster = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, time
        from ray.cluster_utils import Cluster
        cluster = Cluster(initialize_head=True, head_node_args={{"num_cpus": 1}})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        pathlib.Path({str(address_file)!r}).write_text(cluster.address)
        try:
            time.sleep(600)
        finally:
            cluster.shutdown()
    """)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not address_file.exists():
            assert cluster.poll() is None, cluster.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        address = address_file.read_text()
        assert address.startswith("127.0.0.1:")
        db = str(tmp_path / "c.db")
        run = nas("run", "--address", address, "--population", "6", "--generations", "1", "--epochs", "10",
                  "--name", "two", "--db", db, "--quiet")  # fmt: skip
        assert run.returncode == 0, run.stderr
        data = json.loads(nas("show", "two", "--db", db, "--json").stdout)
        nodes = {i["node"] for g in data["generations"] for i in g["evaluated"] if i["status"] != "cached"}
        assert len(nodes) == 2 and None not in nodes
    finally:
        cluster.send_signal(signal.SIGTERM)
        cluster.communicate(timeout=60)


def _evaluate_task_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "cmdline").read_bytes().startswith(b"ray::evaluate_task"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["generational", "steady-state"])
def test_a_worker_killed_mid_evaluation_does_not_fail_the_run(tmp_path, mode):
    db = str(tmp_path / "k.db")
    cmd = [sys.executable, "-m", "evonas.cli", "run", "--population", "4", "--generations", "1",
           "--epochs", "40", "--cpus", "2", "--name", "k", "--db", db, "--quiet", "--mode", mode]  # fmt: skip
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = 0
    deadline = time.monotonic() + 240
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        for pid in _evaluate_task_pids():
            os.kill(pid, signal.SIGKILL)
            killed += 1
            break
        time.sleep(0.05)
    _, err = proc.communicate(timeout=600)
    assert killed == 1, "no evaluation was seen running"
    assert proc.returncode == 0, err
    data = json.loads(nas("show", "k", "--db", db, "--json").stdout)
    assert data["status"] == "finished"
    for g in data["generations"]:
        assert len(g["evaluated"]) == 4  # every individual accounted for
        for ind in g["evaluated"]:  # retried to a result, or a failure that names the infrastructure
            assert ind["status"] in ("ok", "cached") or ind["error"]
