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

Another search budget against the same reference: ``--lr`` overrides the budget's learning rate,
and ``--reference-from`` takes the reference trainings of an earlier result file (they do not
depend on the search budget) instead of training them again:

    .venv/bin/python bench/fitness_budget.py --config bench/fashion_search.toml \
        --data-dir ../shared/datasets/fashion-mnist --epochs 3 --lr 1e-3 \
        --reference-from fitness_budget_fashion.json --out fitness_budget_fashion_lr1e-3.json

The fitness a search now uses (issue "Clusters worth finding"): ``--preset`` sizes the search
budget and splits as `nas run` does for the data (28x28: 1000 steps of batch 64, 8000 training and
2000 validation images), genomes carry their training recipe, ``--heads`` scores each
search-budget training with every head named (one training, both partitions of its codes), and
the reference is `nas train` with ``--reference-head`` (its default, umap-gmm; heldout protocol)
and ``--reference-seeds`` seeds:

    .venv/bin/python bench/fitness_budget.py --data-dir ../shared/datasets/fashion-mnist \
        --dataset fashion-mnist --preset --heads kmeans,umap-gmm --reference-head umap-gmm \
        --epochs 3 --reference-seeds 1 --out fidelity_fashion_heads.json [--resume]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

from evonas.datasets import load_dataset
from evonas.export import write_bundle
from evonas.genomes import Genome, SearchSpace, build_autoencoder, random_genome
from evonas.learn import state_dict_bytes
from evonas.learn.heads import HEADS, Head
from evonas.learn.reconstruction import reconstruct_and_encode
from evonas.nas import build_config, prepare_data
from evonas.nas.config import RunConfig
from evonas.nas.presets import apply_preset, resolve_steps
from evonas.seeds import evaluation_seed
from evonas.training.train import TrainOptions, train_bundle
from evonas.workers import EvalResult, FitnessData, evaluate_genome
from evonas.workers.fitness import Budget, score_codes

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
    parser.add_argument("--lr", type=float, help="the search budget's learning rate (default: the config's)")
    parser.add_argument(
        "--reference-from", metavar="FILE", help="reuse the reference rows of bench/results/FILE"
    )
    parser.add_argument("--dataset", help="the dataset (default: the config's)")
    parser.add_argument("--preset", action="store_true", help="size budget and splits as `nas run` does")
    parser.add_argument(
        "--heads", default="", help="heads scoring each search-budget training, e.g. kmeans,umap-gmm"
    )
    parser.add_argument("--reference-head", choices=HEADS, default="kmeans", help="the head of `nas train`")
    parser.add_argument("--reference-seeds", type=int, default=2, choices=(1, 2, 3))
    parser.add_argument(
        "--add-reference-seeds", action="store_true",
        help="train the missing reference seeds (up to --reference-seeds) of the rows in --out",
    )  # fmt: skip
    args = parser.parse_args()
    heads: list[Head] = [h for h in args.heads.split(",") if h]  # type: ignore[misc]
    if any(h not in HEADS for h in heads):
        sys.exit(f"--heads: each of {', '.join(HEADS)}; got {args.heads!r}")
    out = RESULTS / args.out
    if args.summarise:
        doc = json.loads(out.read_text())
        doc["summary"] = summarise(doc["rows"])
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc["summary"], indent=2))
        return
    if args.add_reference_seeds:
        add_reference_seeds(out, args.reference_seeds)
        return
    overrides: dict[str, dict[str, object]] = {"dataset": {}}
    if args.data_dir:
        overrides["dataset"]["data_dir"] = str(args.data_dir)
    if args.dataset:
        overrides["dataset"]["name"] = args.dataset
    if args.lr is not None:
        overrides["budget"] = {"lr": args.lr}
    config = build_config(args.config, overrides)
    if args.preset:  # as `nas run` sizes it (evonas/nas/runner.py: run_search)
        images = load_dataset(config.dataset.name, config.dataset.data_dir, config.dataset.layout)
        config = apply_preset(config, images.input_shape, len(images.x))
        _, data = prepare_data(config.dataset, images)
        config = resolve_steps(config, len(data.x_train))
    else:
        _, data = prepare_data(config.dataset)
    heads = heads or [config.budget.head]
    space = config.search_space or SearchSpace.preset_for(data.input_shape)
    rng = np.random.default_rng(args.seed)
    genomes: dict[str, Genome] = {}
    while len(genomes) < args.genomes:
        g = random_genome(space, data.input_shape, rng)
        genomes.setdefault(g.hash, g)
    reference: dict[str, dict] = {}
    if args.reference_from:
        earlier = json.loads((RESULTS / args.reference_from).read_text())
        if earlier["dataset"] != config.dataset.name or earlier["reference_epochs"] != args.epochs:
            sys.exit(f"{args.reference_from}: not a {args.epochs}-epoch reference on {config.dataset.name}")
        reference = {r["genome"]: r for r in earlier["rows"]}
    partial_file = RESULTS / f"{out.stem}.partial.json"
    rows = json.loads(partial_file.read_text())["rows"] if args.resume and partial_file.exists() else []
    done = {r["genome"] for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for g in genomes.values():
            name = g.compact()
            if name in done:
                continue
            t0 = time.perf_counter()
            budget = config.budget.model_copy(update={"head": heads[0]})
            search = [
                evaluate_genome(
                    g, data, budget, evaluation_seed(0, g.hash, r), threads=2, keep_weights=len(heads) > 1
                )
                for r in (0, 1)
            ]
            search_s = (time.perf_counter() - t0) / 2
            by_head = {heads[0]: [r.metrics.acc for r in search]}
            head_s: dict[str, float] = {}
            for head in heads[1:]:
                t1 = time.perf_counter()
                by_head[head] = [
                    rescore(g, data, budget.model_copy(update={"head": head}), r) for r in search
                ]
                head_s[head] = round((time.perf_counter() - t1) / 2, 2)
            row = {
                "genome": name,
                "search_acc": by_head[heads[0]],
                "search_acc_by_head": by_head,
                "search_status": [r.status for r in search],
                "search_s": round(search_s, 2),
                "extra_head_s": head_s,
            }
            known = reference.get(name)
            if known is not None:  # the reference does not depend on the search budget
                row |= {"reference_acc": known["reference_acc"], "reference_s": known["reference_s"]}
            else:
                row |= reference_training(
                    g, data.input_shape, config, args.epochs, Path(tmp),
                    args.reference_head, args.reference_seeds,
                )  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
            # an interrupted run keeps its rows
            partial = {**machine(), "dataset": config.dataset.name, "rows": rows}
            partial_file.write_text(json.dumps(partial, indent=2) + "\n")
    summary = summarise(rows)
    doc = {**machine(), "dataset": config.dataset.name, "budget": config.budget.model_dump(),
           "dataset_config": config.dataset.model_dump(mode="json"), "heads": heads,
           "reference_head": args.reference_head, "reference_protocol": "heldout",
           "reference_epochs": args.epochs, "rows": rows, "summary": summary}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    partial_file.unlink(missing_ok=True)
    print(json.dumps(summary, indent=2))


def add_reference_seeds(out: Path, seeds: int) -> None:
    """More `nas train` seeds for the reference of a finished result file (the same genomes,
    head and epochs); the file is rewritten after each genome, so an interruption keeps them."""
    doc = json.loads(out.read_text())
    if "dataset_config" not in doc:
        sys.exit(f"{out.name}: written before --add-reference-seeds existed; train its reference anew")
    config = RunConfig.model_validate({"dataset": doc["dataset_config"]})
    ds = config.dataset
    input_shape = load_dataset(ds.name, ds.data_dir, ds.layout).input_shape
    with tempfile.TemporaryDirectory() as tmp:
        for row in doc["rows"]:
            have = len(row["reference_acc"])
            if have >= seeds:
                continue
            more = reference_training(
                Genome.from_compact(row["genome"]), input_shape, config, doc["reference_epochs"],
                Path(tmp), doc["reference_head"], range(have, seeds),
            )  # fmt: skip
            s_more = float(more["reference_s"])  # type: ignore[arg-type]
            s_all = (row["reference_s"] * have + s_more * (seeds - have)) / seeds
            row["reference_acc"] += more["reference_acc"]
            row["reference_nmi"] += more["reference_nmi"]
            row["reference_s"] = round(s_all, 2)
            print(json.dumps(row), flush=True)
            doc["summary"] = summarise(doc["rows"])
            out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["summary"], indent=2))


def rescore(genome: Genome, data: FitnessData, budget: Budget, result: EvalResult) -> float | None:
    """A finished search-budget evaluation's validation codes partitioned by ``budget``'s head
    instead (the trained weights it kept, the same seed): one training, another head's score."""
    if result.status != "ok" or result.weights is None:
        return None
    from safetensors.torch import load

    model = build_autoencoder(genome, data.input_shape)
    model.load_state_dict(load(result.weights))
    x_val = torch.from_numpy(np.array(data.x_val, dtype=np.float32, copy=True))
    _, z = reconstruct_and_encode(model, x_val, budget.batch_size * 4)
    rng = np.random.default_rng(result.seed)
    return score_codes(z, data, budget, rng, result.seed).get("acc")


def reference_training(
    genome: Genome,
    input_shape: tuple[int, int, int],
    config: RunConfig,
    epochs: int,
    tmp: Path,
    head: Head = "kmeans",  # the head the stored tables before the recipes were measured with
    seeds: Sequence[int] | int = 2,
) -> dict[str, object]:
    """The genome (and its recipe) trained from scratch by `nas train`'s function, heldout
    protocol, scored on the test split."""
    w = tmp / "w.safetensors"
    w.write_bytes(state_dict_bytes(build_autoencoder(genome, input_shape)))
    bundle = write_bundle(tmp / genome.hash, genome, input_shape, w, {})
    t0 = time.perf_counter()
    opts = [
        TrainOptions(
            dataset=config.dataset.name,
            data_dir=config.dataset.data_dir,
            epochs=epochs,
            from_scratch=True,
            pictures=False,
            seed=s,
            head=head,
        )
        for s in (range(seeds) if isinstance(seeds, int) else seeds)
    ]
    ref = [train_bundle(bundle.directory, o, say=lambda _m: None).to_json() for o in opts]
    return {
        "reference_acc": [r["acc"] for r in ref],
        "reference_nmi": [r["nmi"] for r in ref],
        "reference_s": round((time.perf_counter() - t0) / len(opts), 2),
    }


def _corr(x: list[float], y: list[float]) -> dict[str, float]:
    tau, rho = kendalltau(x, y).statistic, spearmanr(x, y).statistic
    return {"kendall_tau": float(tau), "spearman": float(rho)}


def summarise(rows: list[dict]) -> dict[str, object]:
    """Rank correlations over the genomes both search-budget seeds scored, and over all of them
    with a failed evaluation ranked last (as selection ranks it); with several heads, one set per
    head, and each head's seed noise (mean |seed 1 - seed 2| of one genome's search-budget ACC)."""
    ok = [r for r in rows if all(s == "ok" for s in r["search_status"])]
    summary: dict[str, object] = {"genomes": len(rows), "genomes_scored_by_both_seeds": len(ok)}
    by_head = {h for r in rows for h in r.get("search_acc_by_head", {})}
    for head in sorted(by_head) or [None]:
        acc = (lambda r, h=head: r["search_acc_by_head"][h]) if head else (lambda r: r["search_acc"])
        scored = [r for r in ok if all(a is not None for a in acc(r))]
        ref_mean = [float(np.mean(r["reference_acc"])) for r in scored]
        as_ranked = [float(np.mean([a if a is not None else -1.0 for a in acc(r)])) for r in rows]
        part = {
            "one_seed": _corr([acc(r)[0] for r in scored], ref_mean),
            "mean_of_two_seeds": _corr([float(np.mean(acc(r))) for r in scored], ref_mean),
            "all_genomes_failures_last": _corr(as_ranked, [float(np.mean(r["reference_acc"])) for r in rows]),
            "seed_noise_mean_abs_diff": float(np.mean([abs(acc(r)[0] - acc(r)[1]) for r in scored])),
        }
        if all("reference_nmi" in r for r in scored):  # the reference's NMI: no label matching
            part["mean_of_two_seeds_vs_reference_nmi"] = _corr(
                [float(np.mean(acc(r))) for r in scored], [float(np.mean(r["reference_nmi"])) for r in scored]
            )
        if head is None:
            summary |= part
        else:
            summary[head] = part
    if all(len(r["reference_acc"]) > 1 for r in ok):
        summary["reference_seed_to_seed"] = _corr(
            [r["reference_acc"][0] for r in ok], [r["reference_acc"][1] for r in ok]
        )
        if all(len(r.get("reference_nmi", ())) > 1 for r in ok):
            summary["reference_nmi_seed_to_seed"] = _corr(
                [r["reference_nmi"][0] for r in ok], [r["reference_nmi"][1] for r in ok]
            )
    if len(by_head) == 2:  # do the heads rank the same trained models alike?
        a, b = sorted(by_head)
        both = [r for r in ok if all(x is not None for h in (a, b) for x in r["search_acc_by_head"][h])]
        summary["heads_against_each_other"] = _corr(
            [float(np.mean(r["search_acc_by_head"][a])) for r in both],
            [float(np.mean(r["search_acc_by_head"][b])) for r in both],
        )
    summary["search_s_mean"] = float(np.mean([r["search_s"] for r in rows]))
    summary["reference_s_mean"] = float(np.mean([r["reference_s"] for r in rows]))
    return summary


if __name__ == "__main__":
    main()
