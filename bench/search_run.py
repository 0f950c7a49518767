"""Benchmark: one `nas run` with the given flags, measured from outside (issues 3 and 5).

Runs `nas run --quiet <flags>` in a subprocess with a fresh database, samples the summed memory
of the driver and all Ray processes, then reads the stored run (`nas show --json`) and reports:
evaluations (trainings, including second-seed re-evaluations), pruned ones, the sum of the
evaluations' own seconds, evaluations per hour, utilisation = sum of evaluation seconds /
(wall x concurrent workers) and the orchestration overhead = 1 - utilisation, and the best
individual. Results are merged by ``--label`` into bench/results/search_runs.json.

    .venv/bin/python bench/search_run.py --label fashion-pruning -- \
        --dataset fashion-mnist --data-dir ../shared/datasets/fashion-mnist --subset 10000 ...
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import TreeMemory, merge_row

RESULTS = Path(__file__).parent / "results"


def measure(flags: list[str], workers: int, db: Path) -> dict[str, object]:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    cmd = [sys.executable, "-m", "evonas.cli", "run", "--quiet", "--name", "bench", "--db", str(db)]
    cmd += flags
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as mem:
        _out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"nas run failed ({proc.returncode}):\n{err}")
    show = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "show", "bench", "--db", str(db), "--json"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    data = json.loads(show.stdout)
    inds = [i for g in data["generations"] for i in g["evaluated"]]
    trained = [i for i in inds if i["status"] != "cached"]
    evaluations = len(trained) + sum(len(i["evaluations"]) == 2 for i in trained)
    seconds = sum(i["seconds"] for i in trained)
    gen_seconds = sum(g["seconds"] for g in data["generations"])
    best = data["best"] or {}
    per_gen = []
    idle = []  # per stored generation: its seconds x workers minus its evaluations' own seconds
    for g in data["generations"]:
        busy = sum(i["seconds"] for i in g["evaluated"] if i["status"] != "cached")
        share = round(1 - busy / (g["seconds"] * workers), 3) if g["seconds"] else None
        idle.append(
            {
                "index": g["index"],
                "seconds": round(g["seconds"], 1),
                "eval_seconds": round(busy, 1),
                "idle_share": share,
            }
        )
    best_so_far = None
    for g in data["generations"]:
        scores = [i["metrics"]["acc"] for i in g["evaluated"]
                  if i["status"] in ("ok", "cached") and i["metrics"]["acc"] is not None
                  and i["pruned_at_epoch"] is None]  # fmt: skip
        if scores:
            best_so_far = max([*scores, *([best_so_far] if best_so_far is not None else [])])
        per_gen.append(best_so_far)
    return {
        "flags": flags,
        "workers": workers,
        "wall_s": round(wall, 1),
        "generations_s": round(gen_seconds, 1),
        "peak_rss_total_mib": round(mem.peak_total_mib),
        "peak_rss_driver_mib": round(mem.peak_root_mib),
        "individuals": len(inds),
        "evaluations": evaluations,
        "pruned": sum(i["status"] == "pruned" for i in inds),
        "failed": sum(i["status"] == "failed" for i in inds),
        "eval_seconds_sum": round(seconds, 1),
        "evaluations_per_hour": round(evaluations / wall * 3600, 1),
        "utilisation": round(seconds / (wall * workers), 3),
        "overhead": round(1 - seconds / (wall * workers), 3),
        "overhead_in_generations": round(1 - seconds / (gen_seconds * workers), 3),
        "best": best.get("compact"),
        "best_metrics": best.get("metrics"),
        "best_acc_after_generation": per_gen,
        "generations_idle": idle,
        "outside_generations_s": round(wall - gen_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", required=True)
    parser.add_argument("--workers", type=int, default=2, help="concurrent evaluations (for utilisation)")
    parser.add_argument(
        "--keep", type=Path, help="keep the run's database at this path (for schedule_replay.py)"
    )
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags for nas run (after --)")
    args = parser.parse_args()
    flags = [f for f in args.flags if f != "--"]
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(flags, args.workers, Path(tmp) / "bench.db")
        if args.keep is not None:
            shutil.copyfile(Path(tmp) / "bench.db", args.keep)
    merge_row(RESULTS / "search_runs.json", args.label, row)
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
