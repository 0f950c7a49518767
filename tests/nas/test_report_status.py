"""Watching a run: progress lines, `nas status` from another process, the HTML report, compare."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time

import pytest

from evonas.metrics import Metrics
from evonas.nas import DatasetConfig, RunConfig, run_search
from evonas.nas.progress import LineProgress, LiveProgress, progress_for
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord
from evonas.views.progress import RunProgress
from evonas.views.report import SECTIONS, pareto_front
from evonas.views.tables import head_time

from ..conftest import TINY_BUDGET, interruptible

ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
SNAPSHOT = RunProgress(
    name="r", status="running", generation=2, last=5, done=3, total=10, running=2, failed=1, pruned=0,
    cached=1, best_acc=0.7125, elapsed=75.0, eta=3725.0,
)  # fmt: skip


def nas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas.cli", *args], capture_output=True, text=True,
                          timeout=300, env=ENV)  # fmt: skip


def test_a_progress_line_has_every_figure():
    line = SNAPSHOT.render()
    assert line == (
        "r running | generation 2/5 | 3/10 done | 2 running | 1 failed | 1 cached | best ACC 0.7125 | "
        "elapsed 1m15s | left ~1h02m"
    )
    assert "3 pruned" in RunProgress(**{**SNAPSHOT.__dict__, "pruned": 3}).render()
    with_epochs = RunProgress(**{**SNAPSHOT.__dict__, "epochs": ((3, 8), (7, 8))}).render()
    assert "running (epochs 3/8, 7/8)" in with_epochs


def test_plain_progress_for_a_pipe_has_no_control_characters():
    out = io.StringIO()
    display = progress_for(out)
    assert isinstance(display, LineProgress)
    display.update(SNAPSHOT)
    display.update(SNAPSHOT, final=True)
    text = out.getvalue()
    assert text.count("\n") == 2 and not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text)
    assert text.splitlines()[1].startswith("stored: ")


def test_plain_progress_shows_epochs_in_flight_without_flooding_a_log():
    out = io.StringIO()
    display = LineProgress(out)
    display.update(SNAPSHOT)
    moved = {**SNAPSHOT.__dict__, "epochs": ((2, 8),)}
    display.update(RunProgress(**{**moved, "elapsed": SNAPSHOT.elapsed + 5}))  # too soon: skipped
    display.update(RunProgress(**{**moved, "elapsed": SNAPSHOT.elapsed + 16}))  # epochs moved: shown
    display.update(RunProgress(**{**moved, "elapsed": SNAPSHOT.elapsed + 40}))  # nothing new: skipped
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "(epochs 2/8)" in lines[1]


def test_a_terminal_gets_one_line_redrawn_in_place():
    out = io.StringIO()
    display = LiveProgress(out)
    display.update(SNAPSHOT)
    display.update(RunProgress(**{**SNAPSHOT.__dict__, "done": 4}))
    display.update(RunProgress(**{**SNAPSHOT.__dict__, "done": 10}), final=True)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")


def test_pareto_front_keeps_the_non_dominated():
    def rec(h, acc, loss):
        return IndividualRecord(hash=h, genome="", parents=(), operator="", status="ok", seed=0,
                                metrics=Metrics(acc=acc, recon_loss=loss))  # fmt: skip

    pts = [rec("a", 0.9, 0.05), rec("b", 0.5, 0.01), rec("c", 0.4, 0.06), rec("d", 0.9, 0.07)]
    assert [p.hash for p in pareto_front(pts)] == ["b", "a"]


@pytest.mark.slow
def test_report_and_compare_from_a_stored_run(tmp_path, ray_cluster):
    db = str(tmp_path / "rep.db")
    for name, seed in (("one", 1), ("two", 2)):
        run_search(RunConfig(name=name, seed=seed, population=4, generations=2, budget=TINY_BUDGET,
                             dataset=DatasetConfig(subset=300, val_size=200), db=db))  # fmt: skip
    out = tmp_path / "report.html"
    res = nas("report", "one", "--db", db, "--out", str(out))
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert re.findall(r'<section id="([^"]+)"', html) == list(SECTIONS)
    assert html.count("data:image/png;base64,") == 4  # generations, pareto, layer diagram, timing
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # opens offline
    assert "made by <b>init</b>" in html  # the lineage reaches generation 0
    assert re.search(r"of which the kmeans head</t[dh]><td>[\d.]+ s of [\d.]+ s \(\d+\.\d%\)", html)
    compare = nas("compare", "one", "two", "--db", db)
    assert compare.returncode == 0, compare.stderr
    lines = compare.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "status", "dataset", "generations"]
    assert lines[2].startswith("one ") and lines[3].startswith("two ")
    assert nas("report", "ghost", "--db", db, "--out", str(out)).returncode == 1


@pytest.mark.slow
def test_status_of_a_run_in_progress_in_another_process(tmp_path):
    db = tmp_path / "live.db"
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        "population = 4\ngenerations = 30\ncpus = 2\n[dataset]\nsubset = 300\nval_size = 200\n"
        "[budget]\nepochs = 12\nbatch_size = 32\nlr = 0.01\nkmeans_n_init = 2\n"
    )
    proc = subprocess.Popen([sys.executable, "-m", "evonas.cli", "run", "--config", str(cfg), "--name",
                             "live", "--db", str(db)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline
            res = nas("status", "live", "--db", str(db), "--json") if db.exists() else None
            if res is not None and res.returncode == 0:
                data = json.loads(res.stdout)
                if (data["generation"] or 0) >= 1 and data["status"] == "running":
                    break
            time.sleep(0.5)
        # 4 candidates, plus the second-seed evaluations of the best 2 as they start: one may start
        # early, while the generation's last candidate still trains (Search._early_second_seeds)
        assert data["last"] == 30 and data["total"] in (4, 5, 6) and data["best_acc"] is not None
        assert 0 <= data["done"] <= data["total"] and data["running"] <= 2 and data["elapsed"] > 0
        text = nas("status", "live", "--db", str(db))
        assert text.returncode == 0 and text.stdout.startswith("live running | generation ")
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=60)
    after = nas("status", "live", "--db", str(db))
    assert after.stdout.startswith("live interrupted | ") and " 0 running " in after.stdout


def test_a_time_budgeted_run_shows_no_made_up_last_generation():
    from evonas.nas.config import UNTIL_TIME_IS_SPENT

    line = RunProgress(**{**SNAPSHOT.__dict__, "last": UNTIL_TIME_IS_SPENT}).render()
    assert "| generation 2 |" in line


def test_the_estimate_of_a_time_budgeted_run_never_exceeds_the_time_left():
    from evonas.nas.config import UNTIL_TIME_IS_SPENT
    from evonas.nas.tracking import Tracker

    tracker = Tracker("r", UNTIL_TIME_IS_SPENT, 10, time_budget=600.0)
    tracker.generation_started(0, 10, 0, 10, 2)
    tracker.evaluated = 1  # one evaluation finished: the naive estimate is for 100,000 generations
    snap = tracker.snapshot(None)
    assert snap is not None and snap.eta is not None and 0 < snap.eta <= 600.0


def test_the_head_time_is_summed_over_trained_evaluations_and_absent_when_never_measured():
    def ind(h: str, seconds: float, head: float | None, status: str = "ok") -> IndividualRecord:
        status_ = EvalStatus(status)
        return IndividualRecord(h, "{}", (), "init", status_, 0, seconds=seconds, head_seconds=head)

    cached = ind("c", 0.0, None, "cached")
    measured = GenerationRecord(0, (), (ind("a", 10.0, 2.0), ind("b", 30.0, 3.0), cached))
    assert head_time([measured]) == "5.0 s of 40.0 s (12.5%)"
    stored_before = GenerationRecord(0, (), (ind("a", 10.0, None),))  # a run stored before revision 0006
    assert head_time([stored_before]) is None
