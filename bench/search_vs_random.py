"""Benchmark (issue 15): the GA against random search against hand-designed references.

Each ``--strategies`` entry and seed gets one time-budgeted `nas run` (its own database in
``--work``, resumed if a previous call was stopped), then `nas export` of its best and one
`nas train` (``--epochs``, the bundle's recipe, the default head, ``--protocol``) scored on the
test split. ``--references kcae,small`` trains the named hand-designed genomes the same way from
fresh weights with the preset's default recipe. Two calls run side by side (one per strategy,
``--cpus 1`` each) see the same machine load. Rows are merged by label into
bench/results/search_vs_random.json: the best fitness after each evaluation (the curve), the
search's own figures and the final test-split scores.

    .venv/bin/python bench/search_vs_random.py --strategies ga --seeds 0,1,2 --time-budget 20m -- \
        --dataset fashion-mnist --data-dir ../shared/datasets/fashion-mnist --population 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import environment, export_best, reference_bundle, search_figures, train
from _harness import search as run_or_resume
from _proc import merge_row

RESULTS = Path(__file__).parent / "results"
TEST_KEYS = ("acc", "nmi", "ari", "head", "protocol", "train_seconds")


def final_training(env: dict[str, str], bundle: Path, flags: list[str], args: argparse.Namespace) -> dict:
    return train(env, bundle, flags, "--epochs", str(args.epochs), "--protocol", args.protocol, "--seed", "0",
                 "--from-scratch", keep=TEST_KEYS)  # fmt: skip


def search(env: dict[str, str], strategy: str, seed: int, flags: list[str], args: argparse.Namespace) -> None:
    work = args.work / f"{strategy}-{seed}"
    run_flags = ["--cpus", str(args.cpus), "--seed", str(seed), "--strategy", strategy, *flags]
    shown, wall = run_or_resume(env, work / "search.db", run_flags, time_budget=args.time_budget)
    figures = search_figures(shown)
    row: dict[str, object] = {
        "strategy": strategy, "seed": seed, "flags": flags, "time_budget": args.time_budget,
        "cpus": args.cpus,
        "search_wall_s": round(wall, 1),
        **{k: figures[k] for k in ("generations", "pruned", "eval_seconds", "failed", "stop_reason", "best",
                                   "best_metrics", "curve", "evaluations")},
    }  # fmt: skip
    key = f"{args.label}{strategy}-{seed}"
    merge_row(RESULTS / args.out, key, row)
    row["test"] = final_training(env, export_best(env, work / "search.db", work / "best"), flags, args)
    merge_row(RESULTS / args.out, key, row)
    print(strategy, seed, row["best"], row["best_metrics"], row["test"], flush=True)


def reference(env: dict[str, str], name: str, flags: list[str], args: argparse.Namespace) -> None:
    c, h, w = (int(n) for n in args.shape.split(","))
    bundle = reference_bundle(name, (c, h, w), args.work / f"ref-{name}")
    from evonas.genomes.references import seed_genome

    row = {
        "reference": name,
        "genome": seed_genome(name).compact(),
        "test": final_training(env, bundle, flags, args),
    }
    merge_row(RESULTS / args.out, f"ref-{name}", row)
    print(name, row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategies", default="", help="comma-separated: ga, random")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--references", default="", help="comma-separated reference names, e.g. kcae,small")
    parser.add_argument("--time-budget", default="20m")
    parser.add_argument("--cpus", type=int, default=1, help="nas run --cpus (and torch threads of nas train)")
    parser.add_argument("--epochs", type=int, default=3, help="nas train --epochs for every final training")
    parser.add_argument("--protocol", default="heldout")
    parser.add_argument("--out", default="search_vs_random.json", help="results file in bench/results")
    parser.add_argument("--label", default="", help="prefix of the rows' keys, e.g. 'sh-on-'")
    parser.add_argument("--shape", default="1,28,28", help="input shape of the references' bundles")
    parser.add_argument("--work", type=Path, default=Path("bench-work/search-vs-random"))
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags for nas run (after --)")
    args = parser.parse_args()
    flags = [f for f in args.flags if f != "--"]
    env = environment(args.cpus)
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        for strategy in [s for s in args.strategies.split(",") if s]:
            search(env, strategy, seed, flags, args)
    for name in [n for n in args.references.split(",") if n]:
        reference(env, name, flags, args)


if __name__ == "__main__":
    main()
