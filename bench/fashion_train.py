"""Benchmark: full `nas train` protocol on Fashion-MNIST for given genomes.

For each genome: a fresh bundle, reconstruction training on the 60k training images for
``--epochs`` epochs (from scratch, the same budget for every genome), k-means on the t10k test
codes; then, each from those trained weights, IDEC and EDCWRN fine-tuning and (with
``--classifiers``) a linear probe and an end-to-end fine-tuned softmax classifier. Every step
goes through ``train_bundle``, the function behind `nas train`. Writes
bench/results/fashion_train.json (merged by genome, so genomes can be measured in separate runs).

    .venv/bin/python bench/fashion_train.py --genome c128k3-pmax-c64k3-pmax-c32k3-pmax-d512 \
        --label "K-CAE paper CAE" [--classifiers]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.export import write_bundle
from evonas.genomes import Genome, build_autoencoder
from evonas.learn import state_dict_bytes
from evonas.training.train import TrainOptions, train_bundle

RESULTS = Path(__file__).parent / "results"
SHAPE = (1, 28, 28)


def _bundle(out: Path, genome: Genome, weights: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp) / "w.safetensors"
        w.write_bytes(weights)
        write_bundle(out, genome, SHAPE, w, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/fashion-mnist"
    )
    parser.add_argument("--genome", required=True, help="compact genome")
    parser.add_argument("--label", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--finetune-iterations", type=int, default=1000)
    parser.add_argument("--classifiers", action="store_true")
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "evonas-fashion-train")
    parser.add_argument(
        "--reuse-trained",
        action="store_true",
        help="start from the trained weights left in --work",
    )
    parser.add_argument("--finetune", nargs="*", default=["idec", "edcwrn"], help="methods to run")
    args = parser.parse_args()
    genome = Genome.from_compact(args.genome)
    base = args.work / genome.hash
    common = {
        "dataset": "fashion-mnist",
        "data_dir": args.data_dir,
        "seed": 0,
        "pictures": False,
        "head": "kmeans",
    }
    out = RESULTS / "fashion_train.json"
    doc = json.loads(out.read_text()) if out.exists() else {"rows": {}}
    row: dict[str, object] = doc["rows"].get(args.label, {}) if args.reuse_trained else {}
    row.update({"label": args.label, "genome": args.genome})

    def say(msg: str) -> None:
        print(f"[{args.label}] {msg}", flush=True)

    def save() -> None:  # after every step, so an interrupted call keeps what it measured
        doc["rows"][args.label] = {**row, **machine()}
        out.write_text(json.dumps(doc, indent=2) + "\n")

    if not args.reuse_trained:
        shutil.rmtree(base, ignore_errors=True)
        _bundle(base / "trained", genome, state_dict_bytes(build_autoencoder(genome, SHAPE)))
        m = train_bundle(
            base / "trained",
            TrainOptions(**{**common, "pictures": True}, epochs=args.epochs, from_scratch=True),
            say,
        ).to_json()
        row["epochs"] = args.epochs
        row["trained"] = {k: m[k] for k in ("acc", "nmi", "ari", "train_seconds")}
        save()
    trained = (base / "trained" / "heldout" / "trained.safetensors").read_bytes()
    for method in args.finetune:
        _bundle(base / method, genome, trained)
        m = train_bundle(
            base / method,
            TrainOptions(**common, epochs=0, finetune=method, finetune_iterations=args.finetune_iterations),
            say,
        ).to_json()
        row[method] = m["finetune"]
        save()
    if args.classifiers:
        for mode in ("probe", "finetune"):
            _bundle(base / mode, genome, trained)
            t0 = time.perf_counter()
            m = train_bundle(
                base / mode,
                TrainOptions(**common, epochs=0, classifier=mode, classifier_epochs=args.classifier_epochs),
                say,
            ).to_json()
            row[f"classifier_{mode}"] = {
                "accuracy": m["classifier"]["accuracy"],
                "epochs": args.classifier_epochs,
                "seconds": round(time.perf_counter() - t0, 1),
            }
            save()
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
