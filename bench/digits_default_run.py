"""Benchmark: the default `nas run` on the built-in digits, against k-means on raw pixels.

Runs `nas run` (no search flags) in a subprocess with a fresh database, sampling the summed
memory of the driver and every Ray process it starts, then scores k-means on the raw pixels
of the same validation split the same way fitness does (same n_init, one k-means seed per
repeat). Writes bench/results/digits_default_run.json and prints a markdown table.

    .venv/bin/python bench/digits_default_run.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).parent))
from _proc import TreeMemory, machine

from evonas.learn import clustering_scores
from evonas.nas import build_config, prepare_data

RESULTS = Path(__file__).parent / "results"


def raw_pixel_baseline(seeds: int) -> dict[str, float]:
    config = build_config()
    _, data = prepare_data(config.dataset)
    x = data.x_val.reshape(len(data.x_val), -1).astype(np.float64)
    scores = [
        clustering_scores(
            data.y_val,
            KMeans(data.n_clusters, n_init=config.budget.kmeans_n_init, random_state=s).fit_predict(x),
        )
        for s in range(seeds)
    ]
    out = {}
    for key in ("acc", "nmi", "ari"):
        vals = [s[key] for s in scores]
        out[key], out[f"{key}_std"] = float(np.mean(vals)), float(np.std(vals))
    return out


def one_run(db: Path, name: str) -> dict[str, object]:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    cmd = [sys.executable, "-m", "evonas.cli", "run", "--quiet", "--name", name, "--db", str(db)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as mem:
        _out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"nas run failed ({proc.returncode}):\n{err}")
    show = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "show", name, "--db", str(db), "--json"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    data = json.loads(show.stdout)
    inds = [i for g in data["generations"] for i in g["evaluated"]]
    trained = [i for i in inds if i["status"] != "cached"]
    return {
        "wall_s": round(wall, 1),
        "peak_rss_total_mib": round(mem.peak_total_mib),
        "peak_rss_driver_mib": round(mem.peak_root_mib),
        "peak_processes": mem.peak_processes,
        "generations": len(data["generations"]),
        "individuals": len(inds),
        "trained": len(trained),
        "failed": sum(i["status"] == "failed" for i in inds),
        "eval_seconds_sum": round(sum(i["seconds"] for i in trained), 1),
        "best": data["best"]["compact"],
        "best_acc": data["best"]["metrics"]["acc"],
        "best_nmi": data["best"]["metrics"]["nmi"],
        "best_ari": data["best"]["metrics"]["ari"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(Path(tmp) / "bench.db", f"bench-{i}") for i in range(args.repeats)]
    baseline = raw_pixel_baseline(seeds=5)
    result = {**machine(), "runs": runs, "raw_pixels_kmeans_val": baseline}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "digits_default_run.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| run | wall s | peak RSS all processes MiB | driver MiB | trained / individuals | failed |"
          " best genome | ACC | NMI | ARI |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, r in enumerate(runs):
        print(f"| {i} | {r['wall_s']} | {r['peak_rss_total_mib']} | {r['peak_rss_driver_mib']} | "
              f"{r['trained']} / {r['individuals']} | {r['failed']} | `{r['best']}` | {r['best_acc']:.4f} | "
              f"{r['best_nmi']:.4f} | {r['best_ari']:.4f} |")  # fmt: skip
    b = baseline
    print(f"| k-means on raw pixels (5 seeds) | | | | | | | {b['acc']:.4f} +- {b['acc_std']:.4f} | "
          f"{b['nmi']:.4f} +- {b['nmi_std']:.4f} | {b['ari']:.4f} +- {b['ari_std']:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
