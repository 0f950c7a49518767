"""Profile one fitness evaluation on Fashion-MNIST: where do its seconds go?

Runs ``evaluate_genome`` under cProfile (2 torch threads, the search budget of
bench/fashion_search.toml: 8000 training images, 8 epochs at batch 64, 2000 validation images)
and reports the cumulative seconds of its phases: reconstruction training (split into forward +
loss, backward and the optimiser step), the validation pass (reconstruct + encode), k-means and
its scoring. Writes bench/results/profile_eval.json.

    .venv/bin/python bench/profile_eval.py [--genome c32k3-bn-pmax-c64k3-bn-pmax-d32]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.datasets import load_dataset, search_splits
from evonas.genomes import Genome
from evonas.workers import Budget, FitnessData, evaluate_genome

RESULTS = Path(__file__).parent / "results"
PHASES = {
    "whole evaluation": ("fitness.py", "evaluate_genome"),
    "training (train_reconstruction)": ("reconstruction.py", "train_reconstruction"),
    "  backward": ("_tensor.py", "backward"),
    "  optimiser step": ("adam.py", "step"),
    "  forward (model + loss)": ("module.py", "_call_impl"),
    "validation reconstruct + encode": ("reconstruction.py", "reconstruct_and_encode"),
    "k-means + scores (score_codes)": ("fitness.py", "score_codes"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/fashion-mnist"
    )
    parser.add_argument("--genome", default="c32k3-bn-pmax-c64k3-bn-pmax-d32")
    args = parser.parse_args()
    fashion = load_dataset("fashion-mnist", args.data_dir)
    s = search_splits(fashion, val_size=2000, test_fraction=0.0, subset=8000)
    data = FitnessData(s.train.x, s.val.x, s.val.y, 10)
    budget = Budget(epochs=8)
    genome = Genome.from_compact(args.genome)
    evaluate_genome(genome, data, Budget(epochs=1), seed=0, threads=2)  # warm-up
    prof = cProfile.Profile()
    prof.enable()
    result = evaluate_genome(genome, data, budget, seed=0, threads=2)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    phases = {}
    for label, (file, func) in PHASES.items():
        phases[label] = round(
            max((v[3] for k, v in stats.items() if k[0].endswith(file) and k[2] == func), default=0.0), 2
        )
    doc = {**machine(), "genome": args.genome, "budget": budget.model_dump(), "acc": result.metrics.acc,
           "seconds": round(result.seconds, 2), "phases_cumulative_s": phases}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile_eval.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
