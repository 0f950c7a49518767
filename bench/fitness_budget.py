"""Benchmark: does the search's fitness budget rank architectures like full training does?

Draws ``--genomes`` distinct random genomes from the dataset's preset search space, scores each
at the search budget (the default `Budget`, the run's default splits, validation ACC; each seed
separately and their mean, as the search's second-seed re-evaluation does), then trains each from
scratch with the `nas train` protocol (``--epochs`` epochs, batch 256, k-means on the held-out
test split) and reports the Kendall tau and Spearman rho between the two rankings.
Writes bench/results/fitness_budget.json.

    .venv/bin/python bench/fitness_budget.py [--genomes 12] [--epochs 30]
    .venv/bin/python bench/fitness_budget.py --config bench/fashion_search.toml \
        --data-dir ../shared/datasets/fashion-mnist --epochs 3 --out fitness_budget_fashion.json [--resume]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.export import write_bundle
from evonas.genomes import SearchSpace, build_autoencoder, random_genome
from evonas.nas import build_config, prepare_data
from evonas.nas.evolution import evaluation_seed
from evonas.training.train import TrainOptions, train_bundle
from evonas.workers import evaluate_genome
from evonas.workers.fitness import state_dict_bytes

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genomes", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=30, help="the reference training (nas train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="run configuration (TOML); default: digits")
    parser.add_argument("--data-dir", type=Path, help="the dataset's directory, when it is read from files")
    parser.add_argument("--out", default="fitness_budget.json", help="file name in bench/results/")
    parser.add_argument("--summarise", action="store_true", help="recompute the summary of the stored rows")
    parser.add_argument("--resume", action="store_true", help="keep an interrupted run's rows")
    args = parser.parse_args()
    out = RESULTS / args.out
    if args.summarise:
        doc = json.loads(out.read_text())
        doc["summary"] = summarise(doc["rows"])
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc["summary"], indent=2))
        return
    overrides = {"dataset": {"data_dir": str(args.data_dir)}} if args.data_dir else {}
    config = build_config(args.config, overrides)
    _, data = prepare_data(config.dataset)
    space = config.search_space or SearchSpace.preset_for(data.input_shape)
    rng = np.random.default_rng(args.seed)
    genomes: dict[str, object] = {}
    while len(genomes) < args.genomes:
        g = random_genome(space, data.input_shape, rng)
        genomes.setdefault(g.hash, g)
    partial_file = RESULTS / f"{out.stem}.partial.json"
    rows = json.loads(partial_file.read_text())["rows"] if args.resume and partial_file.exists() else []
    done = {r["genome"] for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for g in genomes.values():
            if g.compact() in done:  # type: ignore[attr-defined]
                continue
            t0 = time.perf_counter()
            search = [
                evaluate_genome(g, data, config.budget, evaluation_seed(0, g.hash, r), threads=2)  # type: ignore[arg-type]
                for r in (0, 1)
            ]
            search_s = (time.perf_counter() - t0) / 2
            w = Path(tmp) / "w.safetensors"
            w.write_bytes(state_dict_bytes(build_autoencoder(g, data.input_shape)))  # type: ignore[arg-type]
            bundle = write_bundle(Path(tmp) / g.hash, g, data.input_shape, w, {})  # type: ignore[arg-type]
            t0 = time.perf_counter()
            opts = [
                TrainOptions(
                    dataset=config.dataset.name,
                    data_dir=config.dataset.data_dir,
                    epochs=args.epochs,
                    from_scratch=True,
                    pictures=False,
                    seed=s,
                )
                for s in (0, 1)
            ]
            ref = [train_bundle(bundle.directory, o, say=lambda _m: None) for o in opts]
            ref_s = (time.perf_counter() - t0) / 2
            row = {
                "genome": g.compact(),  # type: ignore[attr-defined]
                "search_acc": [r.acc for r in search],
                "search_status": [r.status for r in search],
                "search_s": round(search_s, 2),
                "reference_acc": [r["acc"] for r in ref],
                "reference_s": round(ref_s, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            # an interrupted run keeps its rows
            partial = {**machine(), "dataset": config.dataset.name, "rows": rows}
            partial_file.write_text(json.dumps(partial, indent=2) + "\n")
    summary = summarise(rows)
    doc = {**machine(), "dataset": config.dataset.name, "budget": config.budget.model_dump(),
           "reference_epochs": args.epochs, "rows": rows, "summary": summary}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    partial_file.unlink(missing_ok=True)
    print(json.dumps(summary, indent=2))


def _corr(x: list[float], y: list[float]) -> dict[str, float]:
    tau, rho = kendalltau(x, y).statistic, spearmanr(x, y).statistic
    return {"kendall_tau": float(tau), "spearman": float(rho)}


def summarise(rows: list[dict]) -> dict[str, object]:
    """Rank correlations over the genomes both search-budget seeds scored, and over all of them
    with a failed evaluation ranked last (as selection ranks it)."""
    ok = [r for r in rows if all(s == "ok" for s in r["search_status"])]
    ref_mean = [float(np.mean(r["reference_acc"])) for r in ok]
    as_ranked = [float(np.mean([a if a is not None else -1.0 for a in r["search_acc"]])) for r in rows]
    return {
        "genomes": len(rows),
        "genomes_scored_by_both_seeds": len(ok),
        "one_seed": _corr([r["search_acc"][0] for r in ok], ref_mean),
        "mean_of_two_seeds": _corr([float(np.mean(r["search_acc"])) for r in ok], ref_mean),
        "all_genomes_failures_last": _corr(as_ranked, [float(np.mean(r["reference_acc"])) for r in rows]),
        "reference_seed_to_seed": _corr(
            [r["reference_acc"][0] for r in ok], [r["reference_acc"][1] for r in ok]
        ),
        "search_s_mean": float(np.mean([r["search_s"] for r in rows])),
        "reference_s_mean": float(np.mean([r["reference_s"] for r in rows])),
    }


if __name__ == "__main__":
    main()
