"""Benchmark: the GA against random search, same evaluator, budget and number of generations.

For each strategy and seed: a default-sized `nas run` (through bench/_harness.py, as a user runs it), the best
validation ACC found after each generation, the number of trainings it paid for, then the best
genome trained from scratch with the `nas train` protocol (``--epochs`` epochs, k-means on the
held-out test split, never seen by the search) so both strategies' winners get the same final
training. Writes bench/results/search_quality.json.

    .venv/bin/python bench/search_quality.py [--seeds 3] [--dataset digits] [-- extra RunConfig JSON]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import environment, export_best, search, train
from _proc import machine

RESULTS = Path(__file__).parent / "results"


def best_after_each_generation(shown: dict) -> list[float | None]:
    """The best validation ACC (complete evaluations) among the generations up to each one."""
    out: list[float | None] = []
    best: float | None = None
    for g in shown["generations"]:
        for i in g["evaluated"]:
            acc = i["metrics"]["acc"] if i["status"] in ("ok", "cached") else None
            if acc is not None:
                best = acc if best is None else max(best, acc)
        out.append(best)
    return out


def one(strategy: str, seed: int, tmp: Path, epochs: int, overrides: dict) -> dict[str, object]:
    env = environment()
    config = tmp / f"{strategy}-{seed}.yaml"
    config.write_text(json.dumps(overrides))  # JSON is YAML
    start = time.perf_counter()
    flags = ["--config", str(config), "--seed", str(seed), "--strategy", strategy]
    shown, _ = search(env, tmp / f"{strategy}-{seed}.db", flags)
    wall = time.perf_counter() - start
    trained = [i for g in shown["generations"] for i in g["evaluated"] if i["status"] != "cached"]
    bundle = export_best(env, tmp / f"{strategy}-{seed}.db", tmp / f"{strategy}-{seed}")
    final = train(env, bundle, ["--dataset", overrides.get("dataset", {}).get("name", "digits")],
                  "--epochs", str(epochs), "--from-scratch", "--head", "kmeans")  # fmt: skip
    return {
        "strategy": strategy,
        "seed": seed,
        "wall_s": round(wall, 1),
        "trainings": len(trained) + sum(len(i.get("evaluations") or []) == 2 for i in trained),
        "best_val_acc_after_generation": best_after_each_generation(shown),
        "best": (shown.get("best") or {}).get("compact"),
        "test_acc": final["acc"],
        "test_nmi": final["nmi"],
        "test_ari": final["ari"],
    }


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30, help="final training of each winner")
    parser.add_argument("--overrides", default="{}", help="RunConfig fields as JSON")
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for strategy in ("ga", "random"):
                rows.append(one(strategy, seed, Path(tmp), args.epochs, overrides))
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for strategy in ("ga", "random"):
        mine = [r for r in rows if r["strategy"] == strategy]
        curves = [r["best_val_acc_after_generation"] for r in mine]
        summary[strategy] = {
            "best_val_acc_after_generation": [
                _mean_sd([c[g] for c in curves])
                for g in range(len(curves[0]))  # type: ignore[index]
            ],
            "test_acc": _mean_sd([r["test_acc"] for r in mine]),  # type: ignore[misc]
            "test_nmi": _mean_sd([r["test_nmi"] for r in mine]),  # type: ignore[misc]
            "trainings": _mean_sd([r["trainings"] for r in mine]),  # type: ignore[misc]
        }
    doc = {**machine(), "overrides": overrides, "final_epochs": args.epochs, "rows": rows, "summary": summary}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search_quality.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
