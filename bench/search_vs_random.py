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
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import dataset_flags, merge_row

RESULTS = Path(__file__).parent / "results"


def nas(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "evonas.cli", *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"nas {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def curve(show: dict) -> list[float | None]:
    """Best fitness (validation ACC as selection ranks it; pruned candidates never count) after each
    evaluation, in the order the run stored them; a second-seed evaluation counts as one more."""
    out: list[float | None] = []
    best: float | None = None
    for g in show["generations"]:
        for i in g["evaluated"]:
            if i["status"] == "cached":
                continue
            acc = i["metrics"]["acc"] if i["status"] == "ok" else None
            if acc is not None:
                best = acc if best is None else max(best, acc)
            out += [best] * max(1, len(i.get("evaluations") or []))
    return out


def train(
    env: dict[str, str], bundle: Path, flags: list[str], args: argparse.Namespace, scratch: bool
) -> dict:
    t0 = time.perf_counter()
    out = nas(
        env, "train", str(bundle), *dataset_flags(flags), "--epochs", str(args.epochs),
        "--protocol", args.protocol, "--seed", "0", "--no-pictures", "--json",
        *(["--from-scratch"] if scratch else []),
    )  # fmt: skip
    m = json.loads(out)
    keep = ("acc", "nmi", "ari", "head", "protocol", "train_seconds")
    return {"wall_s": round(time.perf_counter() - t0, 1), **{k: m.get(k) for k in keep}}


def search(env: dict[str, str], strategy: str, seed: int, flags: list[str], args: argparse.Namespace) -> None:
    work = args.work / f"{strategy}-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    db = str(work / "search.db")
    t0 = time.perf_counter()
    budget = ["--time-budget", args.time_budget]
    if not (work / "search.db").exists():
        common = ["--quiet", "--name", "s", "--db", db, "--cpus", str(args.cpus)]
        nas(env, "run", *common, *budget, "--seed", str(seed), "--strategy", strategy, *flags)
    elif json.loads(nas(env, "show", "s", "--db", db, "--json"))["status"] != "finished":
        nas(env, "resume", "s", "--quiet", "--db", db, "--cpus", str(args.cpus), *budget)
    wall = time.perf_counter() - t0
    show = json.loads(nas(env, "show", "s", "--db", db, "--json"))
    inds = [i for g in show["generations"] for i in g["evaluated"]]
    row: dict[str, object] = {
        "strategy": strategy,
        "seed": seed,
        "flags": flags,
        "time_budget": args.time_budget,
        "cpus": args.cpus,
        "search_wall_s": round(wall, 1),
        "generations": len(show["generations"]),
        "pruned": sum(i["status"] == "pruned" for i in inds),
        "eval_seconds": round(sum(i["seconds"] for i in inds if i["status"] != "cached"), 1),
        "failed": sum(i["status"] == "failed" for i in inds),
        "stop_reason": show["stop_reason"],
        "best": (show.get("best") or {}).get("compact"),
        "best_metrics": (show.get("best") or {}).get("metrics"),
        "curve": curve(show),
    }
    row["evaluations"] = len(row["curve"])  # type: ignore[arg-type]
    key = f"{args.label}{strategy}-{seed}"
    merge_row(RESULTS / args.out, key, row)
    nas(env, "export", "s", "--db", db, "--out", str(work / "best"), "--force")
    row["test"] = train(env, work / "best", flags, args, scratch=True)
    merge_row(RESULTS / args.out, key, row)
    print(strategy, seed, row["best"], row["best_metrics"], row["test"], flush=True)


def reference(env: dict[str, str], name: str, flags: list[str], args: argparse.Namespace) -> None:
    from evonas.export import write_bundle
    from evonas.genomes import build_autoencoder
    from evonas.genomes.references import seed_genome
    from evonas.learn import state_dict_bytes

    genome = seed_genome(name)
    c, h, w = (int(n) for n in args.shape.split(","))
    shape = (c, h, w)
    bundle = args.work / f"ref-{name}"
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.safetensors"
        weights.write_bytes(state_dict_bytes(build_autoencoder(genome, shape)))
        write_bundle(bundle, genome, shape, weights, {}, force=True)
    row = {
        "reference": name,
        "genome": genome.compact(),
        "test": train(env, bundle, flags, args, scratch=True),
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
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "OMP_NUM_THREADS": str(args.cpus)}
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        for strategy in [s for s in args.strategies.split(",") if s]:
            search(env, strategy, seed, flags, args)
    for name in [n for n in args.references.split(",") if n]:
        reference(env, name, flags, args)


if __name__ == "__main__":
    main()
