"""Benchmark: clustering baselines on Fashion-MNIST t10k, and CAEs at the search's budget.

- k-means (n_init 10) on the raw pixels of the 10,000 test images, ``--seeds`` k-means seeds;
- PCA(50) then k-means, the same way;
- each ``--genome`` (default: the K-CAE paper's CAE) trained exactly as the search trains a
  candidate (the search budget on the search's training split: ``--subset`` images, ``--epochs``
  epochs at batch 64, Adam 3e-3), then k-means on its codes of the 10,000 test images,
  ``--seeds`` training seeds.
Writes bench/results/fashion_baselines.json (rows merged by name).

    .venv/bin/python bench/fashion_baselines.py [--genome COMPACT --label NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.datasets import load_dataset, search_splits
from evonas.genomes import Genome
from evonas.learn import clustering_scores, fit_kmeans
from evonas.workers import Budget, FitnessData, evaluate_genome

RESULTS = Path(__file__).parent / "results"
KCAE = "c128k3-pmax-c64k3-pmax-c32k3-pmax-d512"


def _summary(scores: list[dict[str, float]], seconds: float) -> dict[str, object]:
    out: dict[str, object] = {"runs": scores, "seconds_each": round(seconds / len(scores), 1)}
    for key in ("acc", "nmi", "ari"):
        vals = [s[key] for s in scores]
        out[key], out[f"{key}_sd"] = float(np.mean(vals)), float(np.std(vals))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/fashion-mnist"
    )
    parser.add_argument("--genome", action="append", default=[], help="compact genome (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="a name per --genome")
    parser.add_argument("--subset", type=int, default=8000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--skip-pixels", action="store_true")
    args = parser.parse_args()
    genomes = dict(zip(args.label, args.genome, strict=True)) if args.genome else {"K-CAE paper CAE": KCAE}
    data = load_dataset("fashion-mnist", args.data_dir)
    s = search_splits(data, val_size=args.val_size, test_fraction=0.0, subset=args.subset)
    x_test, y_test = s.test.x, np.asarray(s.test.y)
    rows: dict[str, object] = {}
    if not args.skip_pixels:
        flat = x_test.reshape(len(x_test), -1).astype(np.float64)
        for name, feats in (("raw pixels", flat), ("PCA(50)", None)):
            t0 = time.perf_counter()
            if feats is None:
                feats = PCA(50, random_state=0).fit_transform(flat)
            labels = [fit_kmeans(feats, 10, 10, k).labels_ for k in range(args.seeds)]
            scores = [clustering_scores(y_test, lab) for lab in labels]
            rows[f"{name} + k-means"] = _summary(scores, time.perf_counter() - t0)
            print(name, rows[f"{name} + k-means"], flush=True)
    budget = Budget(epochs=args.epochs, kmeans_n_init=10, kmeans_max_samples=len(x_test))
    fitness = FitnessData(s.train.x, x_test, y_test, 10)
    for label, compact in genomes.items():
        results = [
            evaluate_genome(Genome.from_compact(compact), fitness, budget, seed=seed, threads=2)
            for seed in range(args.seeds)
        ]
        bad = [r.error for r in results if r.status != "ok"]
        if bad:
            raise SystemExit(f"{label}: {bad}")
        scores = [{"acc": r.metrics.acc, "nmi": r.metrics.nmi, "ari": r.metrics.ari} for r in results]
        rows[label] = {
            "genome": compact,
            "params": results[0].params,
            **_summary(scores, sum(r.seconds for r in results)),  # type: ignore[arg-type]
        }
        print(label, rows[label], flush=True)
    out = RESULTS / "fashion_baselines.json"
    doc = json.loads(out.read_text()) if out.exists() else {"rows": {}}
    doc["rows"].update({k: {**v, **machine()} for k, v in rows.items()})  # type: ignore[dict-item]
    doc["search_budget"] = {"subset": args.subset, "val_size": args.val_size, **budget.model_dump()}
    out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
