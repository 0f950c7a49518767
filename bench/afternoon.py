"""Benchmark: what a user gets in an afternoon (issue 17's target).

One time-budgeted `nas run` on a dataset with the preset's defaults, then `nas export` of its
best and `nas train` of that bundle in both protocols (heldout: train without the test split,
score on it; transductive: train and score on every image), each scored by the default head.
The database lives in ``--work`` so an interrupted benchmark carries on with `nas resume`
(the time budget then counts again from the resume). Results are merged by ``--label`` into
bench/results/afternoon.json.

    .venv/bin/python bench/afternoon.py --label fashion-60m --time-budget 60m --epochs 10 -- \
        --dataset fashion-mnist --data-dir ../shared/datasets/fashion-mnist

``--raw-pixels`` adds the baseline the issue measures against: k-means (n_init 10) on the raw
pixels of the images `nas train` scores in each protocol (the same split, read from the bundle).

``--search-from LABEL`` skips the search and trains the best of LABEL's finished one again (another
``--seed`` or ``--epochs``), in a bundle of its own so that runs side by side do not collide:

    .venv/bin/python bench/afternoon.py --label fashion-25m-umap-seed1 --search-from fashion-25m-umap \
        --seed 1 -- --dataset fashion-mnist --data-dir ../shared/datasets/fashion-mnist
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import environment, export_best, search, search_figures, show, train
from _proc import merge_row

RESULTS = Path(__file__).parent / "results"
NAME = "afternoon"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", required=True)
    parser.add_argument("--time-budget", help="nas run --time-budget (required without --search-from)")
    parser.add_argument("--search-from", metavar="LABEL", help="train the best of this label's search")
    parser.add_argument("--epochs", type=int, default=10, help="nas train --epochs")
    parser.add_argument("--seed", type=int, default=0, help="nas train --seed")
    parser.add_argument("--work", type=Path, default=Path("bench-work"), help="database and bundles")
    parser.add_argument("--protocols", default="heldout,transductive")
    parser.add_argument("--raw-pixels", action="store_true", help="k-means on the scored images' pixels too")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags for nas run (after --)")
    args = parser.parse_args()
    flags = [f for f in args.flags if f != "--"]
    if not (args.time_budget or args.search_from):
        parser.error("give --time-budget (a new search) or --search-from LABEL (a finished one)")
    work = args.work / args.label
    work.mkdir(parents=True, exist_ok=True)
    db = str(args.work / (args.search_from or args.label) / "search.db")
    row: dict[str, object] = {"flags": flags, "time_budget": args.time_budget, "epochs": args.epochs}
    row |= {"seed": args.seed, "search_from": args.search_from} if args.search_from else {}

    env = environment()
    start = time.perf_counter()
    if args.search_from:
        shown = show(env, Path(db), NAME)
        if shown["status"] != "finished":
            sys.exit(f"{args.search_from}'s search has not finished: run its label again first")
    else:
        shown, _ = search(env, Path(db), flags, time_budget=args.time_budget, name=NAME)
    row["search_wall_s"] = round(time.perf_counter() - start, 1)
    figures = search_figures(shown)
    row["search"] = {
        k: figures[k]
        for k in (
            "generations",
            "individuals",
            "trained",
            "pruned",
            "failed",
            "stop_reason",
            "best",
            "best_metrics",
        )
    }
    bundle = export_best(env, Path(db), work / "best", NAME)
    trains = {}
    for protocol in args.protocols.split(","):
        trains[protocol] = train(env, bundle, flags, "--epochs", str(args.epochs), "--protocol", protocol,
                                 "--seed", str(args.seed))  # fmt: skip
        print(protocol, json.dumps(trains[protocol])[:400], flush=True)
    row["train"] = trains
    if args.raw_pixels:
        row["raw_pixels_kmeans"] = {p: raw_pixels(bundle, p) for p in args.protocols.split(",")}
        print("raw pixels", row["raw_pixels_kmeans"], flush=True)
    row["total_wall_s"] = round(time.perf_counter() - start, 1)
    merge_row(RESULTS / "afternoon.json", args.label, row)
    print(json.dumps(row, indent=2)[:3000])


def raw_pixels(bundle: Path, protocol: str) -> dict[str, float]:
    """k-means (n_init 10, seed 0) on the raw pixels of the images `nas train` scores under
    ``protocol``: the test split (heldout) or every image (transductive), as it splits them."""
    from sklearn.cluster import KMeans

    from evonas.datasets import load_dataset
    from evonas.export import read_bundle
    from evonas.learn.scores import clustering_scores
    from evonas.training import protocol_rows

    ds = read_bundle(bundle).meta["dataset"]
    data = load_dataset(
        ds["name"], Path(ds["data_dir"]) if ds.get("data_dir") else None, ds.get("layout", "auto")
    )
    assert data.y is not None and data.n_classes is not None
    rows = protocol_rows(data, ds, protocol).score  # the rows nas train scores
    x = data.x[rows].reshape(len(rows), -1)
    labels = KMeans(data.n_classes, n_init=10, random_state=0).fit_predict(x)
    return {k: round(v, 4) for k, v in clustering_scores(data.y[rows], labels).items()}


if __name__ == "__main__":
    main()
