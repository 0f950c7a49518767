"""The ``nas`` command end to end, in subprocesses, as a user runs it."""

import json
import os
import re
import subprocess
import sys

import pytest

from evonas.metrics import Metrics

NAS = [sys.executable, "-m", "evonas.cli"]
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def nas(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*NAS, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.mark.slow
def test_run_then_show_and_runs(tmp_path):
    db = str(tmp_path / "cli.db")
    run = nas("run", "--name", "cli", "--population", "4", "--generations", "2", "--epochs", "5",
              "--seed", "3", "--cpus", "2", "--db", db)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "run cli finished" in run.stdout and "nas show cli" in run.stdout
    final_lines = [line for line in run.stderr.splitlines() if line.startswith("stored: cli running")]
    assert [line.split(" | ")[1] for line in final_lines] == [
        "generation 0/2",
        "generation 1/2",
        "generation 2/2",
    ]
    counts = [re.search(r" \| (\d+)/(\d+) done \| 0 running \| ", line).groups() for line in final_lines]

    show = nas("show", "cli", "--db", db, "--json")
    assert show.returncode == 0, show.stderr
    data = json.loads(show.stdout)
    assert data["status"] == "finished" and isinstance(data["run_id"], int)
    assert [g["index"] for g in data["generations"]] == [0, 1, 2]
    for g in data["generations"]:
        assert len(g["population"]) == 4
        for ind in g["evaluated"]:
            assert {"hash", "genome", "parents", "status", "metrics", "seconds"} <= set(ind)
            assert set(ind["metrics"]) == set(Metrics.fields())  # one serialised form everywhere
            if ind["status"] == "ok":  # the head's share of the evaluation's seconds
                assert 0 < ind["head_seconds"] < ind["seconds"]
            elif ind["status"] != "cached":  # failed before clustering: 0 s in the head
                assert 0 <= ind["head_seconds"] < ind["seconds"]
    # each generation's total: its 4 candidates and the second-seed evaluations of its best 2
    twice = [sum(len(i["evaluations"]) == 2 for i in g["evaluated"]) for g in data["generations"]]
    assert twice == [2, 2, 2]
    assert counts == [(str(4 + n), str(4 + n)) for n in twice]
    best = data["best"]
    assert {"hash", "genome", "metrics"} <= set(best) and best["metrics"]["acc"] > 0.1
    assert best["hash"] in data["generations"][-1]["population"]

    table = nas("show", "cli", "--db", db)
    assert table.returncode == 0 and "best:" in table.stdout and "gen" in table.stdout
    header, _rule, *gen_rows = [line.split() for line in table.stdout.splitlines()[1:6]]  # 3 generations
    so_far = [float(r[-2]) for r in gen_rows]  # the run's best up to each generation
    assert header[-4:] == ["best", "so", "far", "seconds"]
    assert so_far == sorted(so_far) and so_far[-1] == round(best["metrics"]["acc"], 4)
    spent = [x for x in table.stdout.splitlines() if x.startswith("evaluation time in the kmeans head:")]
    assert len(spent) == 1 and re.search(r"head: [\d.]+ s of [\d.]+ s \(\d+\.\d%\)$", spent[0]), spent
    runs = nas("runs", "--db", db)
    assert runs.returncode == 0 and "cli" in runs.stdout and "finished" in runs.stdout

    # weights are kept for the best 5 individuals only, beside the database
    kept = sorted((tmp_path / "cli.db-weights" / f"run-{data['uid']}").glob("*.safetensors"))
    assert len(kept) == 5 and best["hash"] in {p.stem for p in kept}
    export = nas("export", "cli", "--db", db, "--out", str(tmp_path / "best"))
    assert export.returncode == 0, export.stderr
    assert {p.name for p in (tmp_path / "best").iterdir()} == {"genome.json", "model.py", "model.safetensors"}
    assert json.loads((tmp_path / "best" / "genome.json").read_text())["hash"] == best["hash"]
    beyond = nas("export", "cli", "--db", db, "--out", str(tmp_path / "x"), "--rank", "99")
    assert beyond.returncode == 1 and "'--rank' option must be between 1 and" in beyond.stderr


@pytest.mark.slow
def test_a_time_budget_ends_a_real_run_cleanly_and_resume_spends_a_new_one(tmp_path):
    db = str(tmp_path / "tb.db")
    run = nas("run", "--name", "tb", "--population", "4", "--epochs", "3", "--seed", "1", "--cpus", "2",
              "--time-budget", "12s", "--quiet", "--db", db)  # fmt: skip
    assert run.returncode == 0, run.stderr
    first = json.loads(nas("show", "tb", "--db", db, "--json").stdout)
    assert first["status"] == "finished" and first["stop_reason"].startswith("time budget of 12s spent")
    assert first["best"] is not None and len(first["generations"]) >= 1  # its best is stored
    assert "time budget of 12s spent" in nas("show", "tb", "--db", db).stdout  # the reason is shown
    more = nas("resume", "tb", "--time-budget", "20s", "--quiet", "--db", db)
    assert more.returncode == 0, more.stderr
    second = json.loads(nas("show", "tb", "--db", db, "--json").stdout)
    assert second["status"] == "finished" and second["stop_reason"].startswith("time budget of 20s spent")
    assert len(second["generations"]) > len(first["generations"])  # carried on from where it stopped
    assert second["generations"][: len(first["generations"])] == first["generations"]  # kept as it was


def test_usage_errors_exit_2():
    out = nas("run", "--population", "many")
    assert out.returncode == 2 and "invalid int value" in out.stderr
    assert nas("frobnicate").returncode == 2


def test_debug_shows_the_traceback(tmp_path):
    out = nas("run", "--population", "1", "--db", str(tmp_path / "x.db"), "--debug")
    assert out.returncode == 1 and "Traceback" in out.stderr


@pytest.mark.slow
def test_a_run_where_every_candidate_fails_says_why_and_what_to_change(tmp_path):
    # a gate no CAE can pass: validation MSE below 1% of the mean image's
    cfg = tmp_path / "strict.toml"
    cfg.write_text("population = 2\ngenerations = 0\ncpus = 2\n[budget]\nepochs = 1\ngate_ratio = 0.01\n")
    run = nas("run", "--config", str(cfg), "--name", "strict", "--db", str(tmp_path / "s.db"), "--quiet")
    assert run.returncode == 0, run.stderr
    assert "best:" not in run.stdout
    assert "no candidate was scored: 2 of 2 evaluations failed" in run.stderr
    assert "failed the reconstruction gate: give each candidate more training (--epochs" in run.stderr


@pytest.mark.slow
def test_a_real_run_ranks_by_the_objective_it_was_given(tmp_path):
    db = str(tmp_path / "o.db")
    run = nas("run", "--name", "o", "--objective", "nmi", "--population", "4", "--generations", "1",
              "--epochs", "3", "--seed", "2", "--cpus", "2", "--db", db)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "best NMI" in run.stderr and "best ACC" not in run.stderr  # the progress line says what it ranks
    data = json.loads(nas("show", "o", "--db", db, "--json").stdout)
    assert data["config"]["budget"]["objective"] == "nmi"  # stored with the run: a resume keeps it
    evaluated = [i for g in data["generations"] for i in g["evaluated"]]
    assert {i["objective"] for i in evaluated} == {"nmi"}
    complete = [i for i in evaluated if i["status"] in ("ok", "cached")]
    assert all(i["score"] == i["metrics"]["nmi"] for i in complete)
    assert data["best"]["metrics"]["nmi"] == max(i["metrics"]["nmi"] for i in complete)
