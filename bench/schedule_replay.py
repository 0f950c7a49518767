"""Where a generational search's idle CPU goes: replay its measured evaluation times.

Reads a stored run (`nas show --json` of ``--db``), and for every generation replays the
evaluations' own measured seconds on ``--workers`` workers, submitted most expensive first as
`RayEvaluator` does, under two policies: second seeds after the whole generation ("barrier", as
before commit f2da590) and second seeds started as soon as their candidate is certain to be among
the best ("early", the loop today). The difference between a generation's stored seconds and
its replayed makespan is what neither explains: Ray's dispatch, the driver, storage. A model,
not a measurement: it assumes Ray starts queued tasks in submission order on the first free
worker, and that an evaluation takes as long wherever it runs.

    .venv/bin/python bench/schedule_replay.py --db bench-work/run.db --name bench --workers 2
"""

from __future__ import annotations

import argparse
import heapq
import json
import subprocess
import sys

from evonas.genomes import Genome, forward_macs

SHAPE = (1, 28, 28)


def _score(ind: dict) -> float:
    first = ind["evaluations"][0] if ind["evaluations"] else ind["metrics"]
    value = first.get("acc")
    return -1.0 if value is None or ind["status"] != "ok" else float(value)


def replay(gen: dict, workers: int, early: bool) -> tuple[float, float]:
    """(makespan, busy seconds) of one generation's evaluations."""
    main = [i for i in gen["evaluated"] if i["status"] != "cached"]
    first_s = [i["evaluations"][0]["seconds"] if i["evaluations"] else i["seconds"] for i in main]
    second_s = {i["hash"]: i["evaluations"][1]["seconds"] for i in main if len(i["evaluations"]) == 2}
    k = len(second_s)
    order = sorted(
        range(len(main)), key=lambda j: -forward_macs(Genome.from_json(json.dumps(main[j]["genome"])), SHAPE)
    )
    free = [0.0] * workers  # when each worker is next free
    heapq.heapify(free)
    queue = list(order)
    running: list[tuple[float, int]] = []  # (finish time, main index)
    finished: list[int] = []
    started_second: set[str] = set()
    end = 0.0
    busy = sum(first_s) + sum(second_s.values())

    def start(duration: float) -> float:
        t = heapq.heappop(free)
        heapq.heappush(free, t + duration)
        return t + duration

    while queue:  # list scheduling of the first evaluations
        j = queue.pop(0)
        heapq.heappush(running, (start(first_s[j]), j))
    later: list[str] = []
    while running:
        t, j = heapq.heappop(running)
        finished.append(j)
        end = max(end, t)
        remaining = len(running)
        if early and k and remaining < k:
            ranked = sorted(finished, key=lambda x: -_score(main[x]))[: k - remaining]
            for x in ranked:
                h = main[x]["hash"]
                if h in second_s and h not in started_second:
                    started_second.add(h)
                    # starts when a worker is free, but not before this result arrived
                    w = heapq.heappop(free)
                    heapq.heappush(free, max(w, t) + second_s[h])
                    end = max(end, max(w, t) + second_s[h])
    later = [h for h in second_s if h not in started_second]
    barrier = max(free) if not early else end
    for h in later:
        w = heapq.heappop(free)
        heapq.heappush(free, max(w, barrier) + second_s[h])
    return max(max(free), end), busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "show", args.name, "--db", args.db, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    show = json.loads(out.stdout)
    rows = []
    for gen in show["generations"]:
        barrier, busy = replay(gen, args.workers, early=False)
        early, _ = replay(gen, args.workers, early=True)
        rows.append({
            "generation": gen["index"], "stored_s": round(gen["seconds"], 1), "busy_s": round(busy, 1),
            "replay_barrier_s": round(barrier, 1), "replay_early_s": round(early, 1),
            "idle_barrier": round(1 - busy / (args.workers * barrier), 3),
            "idle_early": round(1 - busy / (args.workers * early), 3),
            "idle_stored": round(1 - busy / (args.workers * gen["seconds"]), 3),
        })  # fmt: skip
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
