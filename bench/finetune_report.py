"""The tables of bench/finetune.py's results: mean and sd over seeds per (protocol, method), and each
method's gain over the same model without fine-tuning, paired by seed (markdown on stdout). Given
bench/edcwrn_reproduction.py's results instead, one row per seed, their mean (sd) and the gap to the
paper.

    .venv/bin/python bench/finetune_report.py [--results finetune_25m_umap.json]
    .venv/bin/python bench/finetune_report.py --results edcwrn_reproduction.json

A seed pairs a fine-tuned row with the ``none`` row of the same protocol and seed: both start from
the same trained bundle and use the same head seed, so the difference is what the fine-tuning did.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _ms(values: list[float], fmt: str = ".4f") -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:{fmt}}"
    spread = f"{statistics.stdev(values):{fmt.lstrip('+')}}"
    return f"{statistics.mean(values):{fmt}} (sd {spread})"


def _both(metrics: list[dict[str, float]]) -> str:
    return f"{_ms([m['acc'] for m in metrics])} / {_ms([m['nmi'] for m in metrics])}"


def _pair(rows: list[dict[str, Any]], key: str) -> str:
    return _both([r[key] for r in rows])


def tables(rows: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["protocol"], row["method"]].append(row)
    none = {(r["protocol"], r["seed"]): r for r in rows if r["method"] == "none"}
    out = [
        "| protocol | method | seeds | iterations | stopped because | fine-tuning s | UMAP + GMM ACC / NMI "
        "| k-means ACC / NMI | own (argmax Q) ACC / NMI |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    gains = [
        "| protocol | method | seeds paired | UMAP + GMM ACC gain | NMI gain | k-means ACC gain | NMI gain |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (protocol, method), group in sorted(groups.items()):
        group.sort(key=lambda r: r["seed"])
        seeds = ",".join(str(r["seed"]) for r in group)
        tuned = [r for r in group if r["method"] != "none"]
        iterations = ",".join(str(r["iterations"]) for r in tuned) or ""
        stopped = ",".join(sorted({str(r["stopped_because"]) for r in tuned})) or ""
        seconds = _ms([r["finetune_seconds"] for r in tuned], ".1f") if tuned else ""
        own = _pair(tuned, "own_assignment") if tuned and tuned[0]["own_assignment"] else ""
        out.append(
            f"| {protocol} | {method} | {seeds} | {iterations} | {stopped} | {seconds} "
            f"| {_pair(group, 'umap-gmm')} | {_pair(group, 'kmeans')} | {own} |"
        )
        paired = [(r, none[protocol, r["seed"]]) for r in tuned if (protocol, r["seed"]) in none]
        if paired:
            diff = {
                (head, k): [r[head][k] - base[head][k] for r, base in paired]
                for head in ("umap-gmm", "kmeans")
                for k in ("acc", "nmi")
            }
            gains.append(
                f"| {protocol} | {method} | {','.join(str(r['seed']) for r, _ in paired)} "
                + " ".join(f"| {_ms(v, '+.4f')}" for v in diff.values())
                + " |"
            )
    title = "Gain over the same model without fine-tuning, paired by seed:"
    return "\n".join(out) + f"\n\n{title}\n\n" + "\n".join(gains)


PAPER = {"acc": 0.625, "nmi": 0.680}  # EDCWRN on Fashion-MNIST, all 70k images


def reproduction(rows: list[dict[str, Any]]) -> str:
    """bench/edcwrn_reproduction.py's rows: per seed, mean (sd), and the own assignment's gap to the paper."""
    rows = sorted(rows, key=lambda r: r["seed"])
    out = [
        "| seed | pre-training | threads | before: k-means ACC / NMI | before: UMAP + GMM ACC / NMI "
        "| iterations (stopped because) | fine-tuning s | own (argmax Q) ACC / NMI "
        "| after: k-means | after: UMAP + GMM |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def line(label: str, group: list[dict[str, Any]], pre: str, runs: str) -> str:
        def heads(when: str) -> str:
            return " | ".join(_both([r[when][h] for r in group]) for h in ("kmeans", "umap-gmm"))

        return (
            f"| {label} | {pre} | {','.join(str(r['threads']) for r in group)} | {heads('before')} "
            f"| {runs} | {_ms([r['finetune_seconds'] for r in group], '.1f')} "
            f"| {_pair(group, 'own_assignment')} | {heads('after')} |"
        )

    for r in rows:
        seconds = f", {r['pretrain_seconds']} s" if r["pretrain_seconds"] is not None else ""
        loss = f", loss {r['pretrain_final_loss']:.5f}" if r["pretrain_final_loss"] is not None else ""
        pre = f"{r['pretrain_epochs']} epochs{seconds}{loss}"
        out.append(line(str(r["seed"]), [r], pre, f"{r['iterations']} ({r['stopped_because']})"))
    if len(rows) > 1:
        epochs = ",".join(sorted({str(r["pretrain_epochs"]) for r in rows}))
        runs = _ms([float(r["iterations"]) for r in rows], ".0f")
        out.append(line(f"mean of {len(rows)}", rows, f"{epochs} epochs", runs))
    gap = [
        f"{_ms([r['own_assignment'][k] - PAPER[k] for r in rows], '+.4f')} {k.upper()}"
        for k in ("acc", "nmi")
    ]
    return (
        "\n".join(out)
        + f"\n\nOwn assignment against the paper's {PAPER['acc']} / {PAPER['nmi']}: "
        + (", ".join(gap) + ".")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default="finetune_25m_umap.json", help="a file in bench/results/")
    args = parser.parse_args()
    path = RESULTS / args.results
    if not path.exists():
        raise SystemExit(f"no {path}: run bench/finetune.py --out {args.results} first")
    doc = json.loads(path.read_text())
    when = f"{doc.get('date', '?')}, {doc.get('machine', '?')}, commit {doc.get('commit', '?')}"
    print(f"{path.name}: {when}\n")
    reproducing = all("protocol" not in r for r in doc["rows"])
    print(reproduction(doc["rows"]) if reproducing else tables(doc["rows"]))


if __name__ == "__main__":
    main()
