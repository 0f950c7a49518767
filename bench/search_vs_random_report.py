"""The tables and the curve of bench/search_vs_random.py's results (markdown on stdout, an SVG of
the best fitness per evaluation count, mean over seeds, beside the JSON).

    .venv/bin/python bench/search_vs_random_report.py [--results search_vs_random_umap.json]

The SVG is written beside the JSON, with the same name.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} (sd {statistics.stdev(values):.4f})"


def _at(curve: list[float | None], n: int) -> float | None:
    return curve[n - 1] if len(curve) >= n else None


def svg(series: dict[str, list[float]], width: int = 560, height: int = 300) -> str:
    pad = 40
    top = max(max(v) for v in series.values() if v)
    bottom = min(min(v) for v in series.values() if v)
    longest = max(len(v) for v in series.values())
    colours = {"ga": "#c0392b", "random": "#2471a3"}

    def xy(i: int, value: float) -> str:
        x = pad + (width - 2 * pad) * i / max(1, longest - 1)
        y = height - pad - (height - 2 * pad) * (value - bottom) / max(1e-9, top - bottom)
        return f"{x:.1f},{y:.1f}"

    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11">',
        f'<text x="{pad}" y="16">best validation ACC after n evaluations (mean over seeds)</text>',
        f'<text x="{pad}" y="{height - 8}">evaluations 1..{longest}</text>',
        f'<text x="2" y="{pad}">{top:.3f}</text><text x="2" y="{height - pad}">{bottom:.3f}</text>',
    ]
    for k, (name, values) in enumerate(series.items()):
        points = " ".join(xy(i, v) for i, v in enumerate(values))
        colour = colours.get(name, "#555")
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        lines.append(f'<text x="{width - 110}" y="{30 + 14 * k}" fill="{colour}">{name}</text>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="search_vs_random.json", help="a results file in bench/results")
    path = RESULTS / parser.parse_args().results
    if not path.is_file():
        parser.error(f"no results file {path}: run bench/search_vs_random.py --out {path.name} first")
    runs = json.loads(path.read_text())["runs"]
    searches = {k: v for k, v in runs.items() if "strategy" in v}
    refs = {k: v for k, v in runs.items() if "reference" in v}
    print(
        "| strategy | seed | evaluations | generations | best genome | best val ACC | test ACC | test NMI |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(searches, key=lambda k: (searches[k]["strategy"], searches[k]["seed"])):
        r = searches[key]
        t = r.get("test") or {}
        acc = t.get("acc")
        nmi = t.get("nmi")
        print(
            f"| {r['strategy']} | {r['seed']} | {r['evaluations']} | {r['generations']} | `{r['best']}` | "
            f"{r['best_metrics']['acc']:.4f} | {acc if acc is None else f'{acc:.4f}'} | "
            f"{nmi if nmi is None else f'{nmi:.4f}'} |"
        )
    for _key, r in sorted(refs.items()):
        t, g = r["test"], r["genome"]
        print(f"| reference {r['reference']} | - | - | - | `{g}` | - | {t['acc']:.4f} | {t['nmi']:.4f} |")
    print()
    common = min(len(r["curve"]) for r in searches.values())
    marks = sorted({8, 16, 24, 32, 48, 64, common} - {n for n in (8, 16, 24, 32, 48, 64) if n > common})
    print("| strategy | " + " | ".join(f"best after {n}" for n in marks) + " | test ACC | test NMI |")
    print("| --- | " + " | ".join("---" for _ in marks) + " | --- | --- |")
    series = {}
    for strategy in ("ga", "random"):
        rows = [r for r in searches.values() if r["strategy"] == strategy]
        cells = [_ms([v for r in rows if (v := _at(r["curve"], n)) is not None]) for n in marks]
        tests = [r["test"] for r in rows if r.get("test")]
        print(
            f"| {strategy} (n={len(rows)}) | " + " | ".join(cells)
            + f" | {_ms([t['acc'] for t in tests])} | {_ms([t['nmi'] for t in tests])} |"
        )  # fmt: skip
        curve = []
        for i in range(common):
            values = [r["curve"][i] for r in rows if r["curve"][i] is not None]
            if values:
                curve.append(statistics.mean(values))
        series[strategy] = curve
    path.with_suffix(".svg").write_text(svg(series))


if __name__ == "__main__":
    main()
