"""Benchmark: the clustering pipeline on Fashion-MNIST, step by step, with its cost.

For one genome, `nas train` (the real command's function) trains it from scratch with and without
its recipe, under both protocols, and its codes are clustered by both heads (the umap-gmm row
clusters the very codes the kmeans row did, from the same trained model). Rows:

    plain / kmeans  ->  + recipe (augmentation)  ->  + umap-gmm head; heldout and transductive

Each (recipe, protocol, seed) training is one job; two run at once, one torch thread each.
Results are saved after each job (rerun the same command to resume) in bench/results/pipeline.json.

    .venv/bin/python bench/pipeline.py --data-dir ../shared/datasets/fashion-mnist \
        --epochs 10 --seeds 0 1 2 [--budget-minutes 60]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
GENOME = "c16k3t-bn-pavg-c32k3t-pmax-c64k3l-bn-pmax-c32k5t-pmax-d53"  # the best of an earlier search
RECIPES = {"plain": "", "recipe": "+aug:medium,noise:0,lr:0.001"}


def job(args: tuple[str, str, str, int, int, str]) -> dict:
    """Train one (recipe, protocol, seed), then score its codes with both heads."""
    recipe, protocol, data_dir, epochs, seed, out = args
    os.environ["OMP_NUM_THREADS"] = "1"
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from safetensors.torch import save_file

    from evonas.datasets import load_dataset, search_splits
    from evonas.export import write_bundle
    from evonas.genomes import Genome, build_autoencoder
    from evonas.learn import cluster_codes, clustering_scores
    from evonas.training.train import TrainOptions, train_bundle

    genome = Genome.from_compact(GENOME + RECIPES[recipe])
    folder = Path(tempfile.mkdtemp(prefix=f"pipe-{recipe}-{protocol}-{seed}-"))
    weights = folder / "w.safetensors"
    save_file(build_autoencoder(genome, (1, 28, 28)).state_dict(), str(weights))
    bundle = write_bundle(folder / "b", genome, (1, 28, 28), weights, {"dataset": {"name": "fashion-mnist"}})
    opts = TrainOptions(
        dataset="fashion-mnist", data_dir=Path(data_dir), epochs=epochs, seed=seed, protocol=protocol,
        from_scratch=True, pictures=False, head="kmeans",
    )  # fmt: skip
    m = train_bundle(bundle.directory, opts, say=lambda _m: None).to_json()
    z = np.load(bundle.directory / protocol / "codes.npy")
    data = load_dataset("fashion-mnist", Path(data_dir))
    rows = search_splits(data, val_size=0, test_fraction=0.2).index[2] if protocol == "heldout" else None
    rows = np.arange(len(data.x)) if rows is None else rows
    t0 = time.perf_counter()
    part = cluster_codes(z, 10, "umap-gmm", seed)  # fitted on every image's code (no labels used)
    umap_seconds = time.perf_counter() - t0
    umap = clustering_scores(np.asarray(data.y)[rows], part.labels[rows])
    return {
        "recipe": recipe, "protocol": protocol, "seed": seed, "epochs": epochs, "genome": genome.compact(),
        "train_seconds": m["train_seconds"], "kmeans": {k: m[k] for k in ("acc", "nmi", "ari")},
        "kmeans_seconds": m["head_seconds"], "umap-gmm": umap, "umap_gmm_seconds": round(umap_seconds, 1),
        "scored_images": len(rows), "out": out,
    }  # fmt: skip


def main() -> None:
    from _proc import machine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--protocols", nargs="+", default=["heldout", "transductive"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="pipeline.json")
    parser.add_argument("--table", action="store_true", help="print the markdown table of stored rows")
    args = parser.parse_args()
    path = RESULTS / args.out
    if args.table:
        summary(json.loads(path.read_text()))
        return
    doc = json.loads(path.read_text()) if path.exists() else {**machine(), "rows": []}
    done = {(r["recipe"], r["protocol"], r["seed"], r["epochs"]) for r in doc["rows"]}
    todo = [
        (recipe, protocol, args.data_dir, args.epochs, seed, args.out)
        for seed in args.seeds for protocol in args.protocols for recipe in args.recipes
        if (recipe, protocol, seed, args.epochs) not in done
    ]  # fmt: skip
    print(f"{len(todo)} jobs to run, {len(done)} done")
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for row in pool.imap_unordered(job, todo):
            doc["rows"].append(row)
            doc["updated"] = machine()
            path.write_text(json.dumps(doc, indent=1) + "\n")
            print(json.dumps(row))
    summary(doc)


def summary(doc: dict) -> None:
    """A markdown table: mean +- sd over seeds of ACC / NMI per protocol, recipe and head."""
    groups: dict[tuple, list] = {}
    for r in doc["rows"]:
        groups.setdefault((r["protocol"], r["recipe"]), []).append(r)

    def stat(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} +- {sd:.4f}" if len(values) > 1 else f"{values[0]:.4f}"

    print("| protocol | training | head | ACC | NMI | seeds | train s | head s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (protocol, recipe), rows in sorted(groups.items()):
        for head, secs in (("kmeans", "kmeans_seconds"), ("umap-gmm", "umap_gmm_seconds")):
            print(
                f"| {protocol} | {recipe} | {head} | {stat([r[head]['acc'] for r in rows])} | "
                f"{stat([r[head]['nmi'] for r in rows])} | {len(rows)} | "
                f"{statistics.mean(r['train_seconds'] for r in rows):.0f} | "
                f"{statistics.mean(r[secs] for r in rows):.0f} |"
            )


if __name__ == "__main__":
    main()
