"""Benchmark: does clustering fine-tuning pay? (issue 14, proof 2)

Starts from a bundle that `nas train` has already trained (``BUNDLE/<protocol>/trained.safetensors``,
e.g. the one bench/afternoon.py leaves), so every method fine-tunes the same pre-trained model:
``none`` (the trained model as it is), ``idec`` (no augmentation), ``idec-aug`` (the authors'
shift 0.1 / rotation 10 / zoom 0.1, as DEC-DA), ``idec-recipe`` (`nas train`'s default: the
augmentation the bundle's recipe pre-trained with), ``idec-head`` (the same, starting from the
head's partition: ``--finetune-centres head``), ``edcwrn`` (its authors' settings) and
``edcwrn-lr0.1`` (the same at ``--finetune-lr 0.1``). Each fine-tuned model is scored with both
heads from the same codes (umap-gmm by `nas train`, k-means on the `codes.npy` it writes) on the
rows its protocol scores, and with the method's own assignment (argmax Q). Results are merged into
bench/results/finetune.json, one row per (protocol, method, seed), so an interrupted benchmark
carries on where it stopped.

    .venv/bin/python bench/finetune.py --bundle bench-work/fashion-60m/best \\
        --data-dir ../shared/datasets/fashion-mnist --iterations 1400 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _proc import append_row

from evonas.datasets import load_dataset
from evonas.export import read_bundle
from evonas.learn.heads import cluster_codes
from evonas.training import TrainOptions, protocol_rows, train_bundle
from evonas.training.evaluation import clustering_report

RESULTS = Path(__file__).parent / "results"
METHODS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "none": (None, {}),
    "idec": ("idec", {"augment": "none"}),
    "idec-aug": ("idec", {"augment": "medium"}),
    "idec-recipe": ("idec", {}),  # `nas train`'s default: the augmentation of the bundle's recipe
    "idec-head": ("idec", {"centres": "head"}),  # the same, its centres from the head's partition
    "edcwrn": ("edcwrn", {}),
    "edcwrn-lr0.1": ("edcwrn", {"lr": 0.1}),  # the authors' SGD at a tenth of their lr
}
KEYS = ("acc", "nmi", "ari")


def scored_rows(
    bundle_dir: Path, dataset: str, data_dir: Path | None, protocol: str
) -> tuple[np.ndarray, Any]:
    """The rows `nas train` scores under ``protocol`` (its own rule, ``protocol_rows``) and the labels."""
    ds = read_bundle(bundle_dir).meta.get("dataset", {})
    data = load_dataset(dataset, data_dir, ds.get("layout", "auto"))
    return protocol_rows(data, ds, protocol).score, data.y


def one(
    source: Path, work: Path, args: argparse.Namespace, protocol: str, method: str, seed: int
) -> dict[str, Any]:
    """Fine-tune a copy of the bundle whose weights are ``source/<protocol>/trained.safetensors``."""
    target = work / f"{protocol}-{method}-{seed}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("heldout", "transductive"))
    shutil.copyfile(source / protocol / "trained.safetensors", read_bundle(target).weights)
    finetune, options = METHODS[method]
    if finetune:
        options = {**options, "max_iterations": args.iterations}
    opts = TrainOptions(
        dataset=args.dataset, data_dir=args.data_dir, epochs=0, head="umap-gmm", protocol=protocol,
        seed=seed, finetune=finetune, finetune_options=options, pictures=False,
    )  # fmt: skip
    start = time.perf_counter()
    metrics = train_bundle(target, opts, say=lambda msg: print(f"  {msg}", flush=True)).to_json()
    seconds = time.perf_counter() - start
    rows, y = scored_rows(target, args.dataset, args.data_dir, protocol)
    z = np.load(target / protocol / "codes.npy")
    km = cluster_codes(z, metrics["clusters"], "kmeans", seed, 10).labels
    kmeans = clustering_report(np.asarray(y)[rows], km[rows])
    ft = metrics.get("finetune") or {}
    return {
        "protocol": protocol, "method": method, "seed": seed, "iterations_cap": args.iterations,
        "bundle": str(source),
        "umap-gmm": {k: metrics[k] for k in KEYS},
        "kmeans": {k: kmeans[k] for k in KEYS},
        "own_assignment": ft.get("own_assignment"),
        "before_umap_gmm": ft.get("before"),
        "iterations": ft.get("iterations"), "stopped_because": ft.get("stopped_because"),
        "finetune_seconds": ft.get("seconds"), "seconds": round(seconds, 1),
        "genome": metrics["genome"], "scored_images": metrics["test_size"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle trained by nas train")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--protocols", default="heldout,transductive")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--iterations", type=int, default=8000, help="--finetune-iterations (a cap)")
    parser.add_argument("--work", type=Path, default=Path("bench-work/finetune"))
    parser.add_argument("--out", default="finetune.json")
    args = parser.parse_args()
    out = RESULTS / args.out
    doc = json.loads(out.read_text()) if out.exists() else {"rows": []}
    done = {(r["protocol"], r["method"], r["seed"], r["iterations_cap"]) for r in doc["rows"]}
    args.work.mkdir(parents=True, exist_ok=True)
    for protocol in args.protocols.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            for method in args.methods.split(","):
                if (protocol, method, seed, args.iterations) in done:
                    continue
                print(f"{protocol} {method} seed {seed}", flush=True)
                row = one(args.bundle, args.work, args, protocol, method, seed)
                append_row(out, doc, row)


if __name__ == "__main__":
    main()
