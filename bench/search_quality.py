"""Benchmark: the GA against random search, same evaluator, budget and number of generations.

For each strategy and seed: a default-sized `nas run` (in process, its own local Ray), the best
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
from _proc import machine

from evonas.export import export_run
from evonas.nas import build_config, run_search
from evonas.storage import SQLStorage
from evonas.training.train import TrainOptions, train_bundle
from evonas.views.runs import best_individual
from evonas.views.tables import run_input_shape

RESULTS = Path(__file__).parent / "results"


def one(strategy: str, seed: int, tmp: Path, epochs: int, overrides: dict) -> dict[str, object]:
    db = tmp / f"{strategy}-{seed}.db"
    config = build_config(None, {"seed": seed, "strategy": strategy, "db": str(db), "name": "q", **overrides})
    start = time.perf_counter()
    run_search(config)
    wall = time.perf_counter() - start
    with SQLStorage(str(db)) as storage:
        run = storage.get_run("q")
        gens = storage.load_generations(run.id)
        curve = []
        for g in gens:
            b = best_individual([x for x in gens if x.index <= g.index])
            curve.append(b.metrics.acc if b else None)
        best = best_individual(gens)
        assert best is not None
        trained = [i for g in gens for i in g.individuals if i.status != "cached"]
        out = tmp / f"{strategy}-{seed}"
        bundle = export_run(storage, Path(run.config["weights_dir"]), "q", out, run_input_shape(run))
    final = train_bundle(
        bundle.directory,
        TrainOptions(
            dataset=config.dataset.name, epochs=epochs, from_scratch=True, pictures=False, head="kmeans"
        ),
        say=lambda _m: None,
    ).to_json()
    return {
        "strategy": strategy,
        "seed": seed,
        "wall_s": round(wall, 1),
        "trainings": len(trained) + sum(len(i.evaluations) == 2 for i in trained),
        "best_val_acc_after_generation": curve,
        "best": bundle.genome.compact(),
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
