"""Benchmark: one fitness evaluation on Fashion-MNIST, NCHW against channels_last, side by side.

Evaluates each genome with the same seed, data and budget in both memory formats, in this
process with 2 torch threads, and reports seconds per evaluation and training images per
second. Writes bench/results/eval_speed.json.

    .venv/bin/python bench/eval_speed.py [--data-dir ../shared/datasets/fashion-mnist]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.datasets import load_dataset, search_splits
from evonas.genomes import Genome
from evonas.workers import Budget, FitnessData, evaluate_genome

RESULTS = Path(__file__).parent / "results"
GENOMES = {
    # the K-CAE paper's CAE as closely as the encoding allows (its 32x4x4 conv code -> a 512-d dense code)
    "K-CAE paper CAE": "c128k3-pmax-c64k3-pmax-c32k3-pmax-d512",
    "small CAE": "c16k3-pmax-c32k3-pmax-d10",
    "mid CAE": "c32k3-bn-pmax-c64k3-bn-pmax-d32",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/fashion-mnist"
    )
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    s = search_splits(
        load_dataset("fashion-mnist", args.data_dir), val_size=2000, test_fraction=0.0, subset=args.train
    )
    data = FitnessData(s.train.x, s.val.x, s.val.y, 10)
    rows = []
    for label, compact in GENOMES.items():
        row: dict[str, object] = {"genome": label, "compact": compact}
        for fmt in (False, True):
            budget = Budget(epochs=args.epochs, batch_size=64, lr=1e-3, channels_last=fmt)
            evaluate_genome(
                Genome.from_compact(compact), data, budget.model_copy(update={"epochs": 1}), 0, threads=2
            )  # warm-up
            t0 = time.perf_counter()
            r = evaluate_genome(Genome.from_compact(compact), data, budget, seed=0, threads=2)
            wall = time.perf_counter() - t0
            key = "channels_last" if fmt else "nchw"
            row[f"{key}_s"] = round(wall, 2)
            row[f"{key}_train_img_per_s"] = round(args.epochs * args.train / wall)
            row[f"{key}_acc"] = r.metrics.acc
        row["speedup"] = round(float(row["nchw_s"]) / float(row["channels_last_s"]), 2)
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = {
        **machine(),
        "train_images": args.train,
        "epochs": args.epochs,
        "batch_size": 64,
        "threads": 2,
        "rows": rows,
    }
    (RESULTS / "eval_speed.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| genome | NCHW s/eval | channels_last s/eval | speed-up | ACC NCHW / channels_last |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['genome']} `{r['compact']}` | {r['nchw_s']} | {r['channels_last_s']} | {r['speedup']}x | "
            f"{r['nchw_acc']:.4f} / {r['channels_last_acc']:.4f} |"
        )


if __name__ == "__main__":
    main()
