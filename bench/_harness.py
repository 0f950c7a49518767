"""The one "search, export, train" harness of the benchmarks: each step is the `nas` command a user
would type, run as a subprocess (`python -m evonas.cli`), so a benchmark measures the product.

- :func:`search`: `nas run` into a database of its own, or `nas resume` of a stopped one (a
  benchmark stopped mid-way carries on where it stopped), then `nas show --json`;
- :func:`search_figures`: what a results row keeps of a search (counts, the best, the curve);
- :func:`export_best`: `nas export` of the run's best;
- :func:`train`: `nas train --json` of a bundle, with its wall time;
- :func:`reference_bundle`: a bundle of a hand-designed genome with fresh weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _proc import dataset_flags

RUN_NAME = "s"


def environment(threads: int | None = None) -> dict[str, str]:
    """The environment of every `nas` subprocess: Ray on 127.0.0.1, and ``threads`` torch threads."""
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    return env | ({"OMP_NUM_THREADS": str(threads)} if threads else {})


def nas(env: dict[str, str], *args: str, capture: bool = True) -> str:
    """Run one `nas` command; its stdout, or exit naming the command and its stderr's tail."""
    proc = subprocess.run(
        [sys.executable, "-m", "evonas.cli", *args], env=env, capture_output=capture, text=True
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "")[-3000:]
        raise SystemExit(f"nas {' '.join(args[:2])} failed ({proc.returncode}):\n{tail}")
    return proc.stdout if capture else ""


def show(env: dict[str, str], db: Path, name: str = RUN_NAME) -> dict[str, Any]:
    return json.loads(nas(env, "show", name, "--db", str(db), "--json"))


def search(
    env: dict[str, str],
    db: Path,
    run_flags: list[str],
    *,
    time_budget: str | None = None,
    name: str = RUN_NAME,
) -> tuple[dict[str, Any], float]:
    """`nas run` into ``db`` (``run_flags`` as given), or `nas resume` when ``db`` holds the run
    unfinished; returns `nas show --json` and the wall seconds this call spent."""
    budget = ["--time-budget", time_budget] if time_budget else []
    db.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not db.exists():
        nas(env, "run", "--quiet", "--name", name, "--db", str(db), *budget, *run_flags)
    elif show(env, db, name)["status"] != "finished":
        cpus = [f for i, f in enumerate(run_flags) if i and run_flags[i - 1] == "--cpus"]
        nas(env, "resume", name, "--quiet", "--db", str(db), *budget, *(["--cpus", cpus[0]] if cpus else []))
    return show(env, db, name), time.perf_counter() - t0


def curve(shown: dict[str, Any], metric: str = "acc") -> list[float | None]:
    """Best fitness (``metric`` of complete evaluations as selection ranks them; pruned candidates
    never count) after each evaluation, in the order the run stored them; a second-seed evaluation
    counts as one more."""
    out: list[float | None] = []
    best: float | None = None
    for g in shown["generations"]:
        for i in g["evaluated"]:
            if i["status"] == "cached":
                continue
            value = i["metrics"][metric] if i["status"] == "ok" else None
            if value is not None:
                best = value if best is None else max(best, value)
            out += [best] * max(1, len(i.get("evaluations") or []))
    return out


def search_figures(shown: dict[str, Any]) -> dict[str, Any]:
    """What a results row keeps of a search."""
    inds = [i for g in shown["generations"] for i in g["evaluated"]]
    points = curve(shown)
    return {
        "generations": len(shown["generations"]),
        "individuals": len(inds),
        "evaluations": len(points),
        "trained": sum(i["status"] in ("ok", "pruned", "failed") for i in inds),
        "pruned": sum(i["status"] == "pruned" for i in inds),
        "failed": sum(i["status"] == "failed" for i in inds),
        "eval_seconds": round(sum(i["seconds"] for i in inds if i["status"] != "cached"), 1),
        "stop_reason": shown["stop_reason"],
        "best": (shown.get("best") or {}).get("compact"),
        "best_metrics": (shown.get("best") or {}).get("metrics"),
        "curve": points,
    }


def export_best(env: dict[str, str], db: Path, out: Path, name: str = RUN_NAME) -> Path:
    nas(env, "export", name, "--db", str(db), "--out", str(out), "--force")
    return out


def train(
    env: dict[str, str], bundle: Path, run_flags: list[str], *train_flags: str, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`nas train BUNDLE --json` on the search's dataset (its flags taken from ``run_flags``) with
    ``train_flags``; the metrics (``keep`` of them, or all) and the wall seconds."""
    t0 = time.perf_counter()
    m = json.loads(nas(env, "train", str(bundle), *dataset_flags(run_flags), "--no-pictures", "--json",
                       *train_flags))  # fmt: skip
    kept = {k: m.get(k) for k in keep} if keep else m
    return {"wall_s": round(time.perf_counter() - t0, 1), **kept}


def reference_bundle(name: str, shape: tuple[int, int, int], out: Path) -> Path:
    """A bundle of the hand-designed genome ``name`` (e.g. ``kcae``, ``small``) with fresh weights."""
    from evonas.export import write_bundle
    from evonas.genomes import build_autoencoder
    from evonas.genomes.references import seed_genome
    from evonas.learn import state_dict_bytes

    genome = seed_genome(name)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.safetensors"
        weights.write_bytes(state_dict_bytes(build_autoencoder(genome, shape)))
        write_bundle(out, genome, shape, weights, {}, force=True)
    return out
