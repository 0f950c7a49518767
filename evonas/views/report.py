"""`nas report`: one self-contained HTML file about a stored run (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evonas.errors import NASError
from evonas.genomes import Genome, infer_shapes
from evonas.metrics import DEFAULT_OBJECTIVE
from evonas.ranking import unique
from evonas.statuses import EvalStatus
from evonas.storage import GenerationRecord, IndividualRecord, RunInfo, RunStorage
from evonas.views.runs import (
    best_individual,
    counts,
    individuals,
    run_head,
    run_objective,
    scores_line,
    shown_status,
    trained,
)
from evonas.views.tables import head_time, run_input_shape

SECTIONS = ("summary", "generations", "pareto", "best-genome", "lineage", "timing", "failures", "config")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _esc(x: object) -> str:
    return html.escape(str(x))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def generations_plot(gens: Sequence[GenerationRecord], objective: str = DEFAULT_OBJECTIVE) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in (
        (axes[0], "score", f"{objective.upper()}, or silhouette without labels (validation)"),
        (axes[1], "recon_loss", "reconstruction MSE"),
    ):
        xs, best, med, worst = [], [], [], []
        for g in gens:
            values = [
                i.score if key == "score" else getattr(i.metrics, key) for i in g.individuals if i.complete
            ]
            vals = [v for v in values if v is not None]
            if not vals:
                continue
            xs.append(g.index)
            hi, lo = max(vals), min(vals)
            best.append(hi if key == "score" else lo)
            worst.append(lo if key == "score" else hi)
            med.append(statistics.median(vals))
        ax.plot(xs, best, "o-", label="best")
        ax.plot(xs, med, "s--", label="median")
        ax.plot(xs, worst, "v:", label="worst")
        ax.set_xlabel("generation")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    return _png(fig)


def pareto_front(points: Sequence[IndividualRecord]) -> list[IndividualRecord]:
    """Individuals no other beats on both ACC (up) and reconstruction loss (down)."""

    def objectives(r: IndividualRecord) -> tuple[float, float]:
        return float(r.score), float(r.metrics.recon_loss)  # type: ignore[arg-type]

    front = []
    for p in points:
        (pa, pl) = objectives(p)
        dominated = any(
            qa >= pa and ql <= pl and (qa > pa or ql < pl) for qa, ql in (objectives(q) for q in points)
        )
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda r: objectives(r)[1])


def pareto_plot(
    gens: Sequence[GenerationRecord], objective: str = DEFAULT_OBJECTIVE
) -> tuple[str, list[IndividualRecord]]:
    """ACC against reconstruction loss over the last generation: its offspring and its survivors."""
    plt = _pyplot()
    gen = gens[-1]
    by_hash = {i.hash: i for g in gens for i in g.individuals if i.complete}
    candidates = [*gen.individuals, *(by_hash[h] for h in gen.population if h in by_hash)]
    points = [i for i in unique(candidates) if i.complete and i.metrics.recon_loss is not None]
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(6, 4))
    if points:
        largest = max(p.metrics.params or 1 for p in points)
        sizes = [20 + 200 * (i.metrics.params or 0) / largest for i in points]
        ax.scatter(
            [i.metrics.recon_loss for i in points], [i.score for i in points], s=sizes, alpha=0.5,
            label="evaluated",
        )  # fmt: skip
        ax.plot([i.metrics.recon_loss for i in front], [i.score for i in front], "r.-", label="Pareto front")
        ax.legend()
    ax.set_xlabel("reconstruction MSE (lower is better)")
    ax.set_ylabel(f"{objective.upper()} or silhouette (higher is better)")
    ax.set_title(f"generation {gen.index} (offspring and survivors); marker size ~ parameters")
    ax.grid(alpha=0.3)
    return _png(fig), front


INPUT_COLOUR = "#dddddd"


def layer_diagram(genome: Genome, input_shape: tuple[int, int, int]) -> str:
    plt = _pyplot()
    genes = genome.genes
    layers = [("input", input_shape, INPUT_COLOUR, False)] + [
        (layer.token, layer.shape, gene.COLOUR, gene.kind == "dense")
        for gene, layer in zip(genes, infer_shapes(genome, input_shape), strict=True)
    ]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(layers)), 2.0))
    for k, (token, (c, h, w), color, flat) in enumerate(layers):
        ax.add_patch(plt.Rectangle((k * 1.2, 0), 1.0, 1.0, color=color, ec="black"))
        shape = f"{c}" if flat else f"{c}x{h}x{w}"
        ax.text(k * 1.2 + 0.5, 0.62, token, ha="center", fontsize=9, weight="bold")
        ax.text(k * 1.2 + 0.5, 0.3, shape, ha="center", fontsize=8)
        if k:
            ax.annotate("", xy=(k * 1.2, 0.5), xytext=(k * 1.2 - 0.2, 0.5), arrowprops={"arrowstyle": "->"})
    ax.set_xlim(-0.1, len(layers) * 1.2)
    ax.set_ylim(-0.1, 1.1)
    ax.axis("off")
    ax.set_title("encoder, with the tensor shape after each layer (the decoder mirrors it)", fontsize=9)
    return _png(fig)


def timing_plot(gens: Sequence[GenerationRecord]) -> str:
    plt = _pyplot()
    secs = [i.seconds for i in trained(individuals(gens))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    axes[0].hist(secs or [0], bins=20, color="#8fb8de", ec="black")
    axes[0].set_xlabel("seconds per evaluation")
    axes[0].set_ylabel("evaluations")
    axes[1].bar([g.index for g in gens], [g.seconds for g in gens], color="#a8d5a2", ec="black")
    axes[1].set_xlabel("generation")
    axes[1].set_ylabel("wall seconds")
    return _png(fig)


def lineage_html(best: IndividualRecord, gens: Sequence[GenerationRecord]) -> str:
    """The best individual's ancestry back to generation 0; each ancestor is expanded once."""
    made: dict[str, tuple[int, IndividualRecord]] = {}  # hash -> the record that created it
    for g in gens:
        for i in g.individuals:
            if i.hash not in made or (
                made[i.hash][1].status == EvalStatus.CACHED and i.status != EvalStatus.CACHED
            ):
                made[i.hash] = (g.index, i)
    shown: set[str] = set()

    def node(h: str, depth: int) -> str:
        if h not in made:
            return f"<li><code>{_esc(h)}</code> (not in this run)</li>"
        gen, rec = made[h]
        label = (
            f"generation {gen}: <code>{_esc(Genome.from_json(rec.genome).compact())}</code> "
            f"score {_fmt(rec.score)}, made by <b>{_esc(rec.operator)}</b>"
        )
        if h in shown:
            return f"<li>{label} (shown above)</li>"
        shown.add(h)
        kids = "".join(node(p, depth + 1) for p in rec.parents) if depth < 50 else ""
        return f"<li>{label}" + (f"<ul>{kids}</ul>" if kids else "") + "</li>"

    return f"<ul class='tree'>{node(best.hash, 0)}</ul>"


def build_report(run: RunInfo, gens: Sequence[GenerationRecord]) -> str:
    """The whole HTML document."""
    best = best_individual(gens)
    inds = individuals(gens)
    n = counts(inds)
    failed = [(g.index, i) for g in gens for i in g.individuals if i.status == EvalStatus.FAILED]
    ds = run.config.get("dataset", {})
    parts = [f"<h1>evonas run {_esc(run.name)}</h1>"]

    summary = [
        ("status", shown_status(run)), ("dataset", ds.get("name")), ("seed", run.seed),
        ("generations", f"0..{gens[-1].index}" if gens else "none"), ("individuals", n.records),
        ("trained", n.trained), ("cached", n.cached), ("failed", n.failed), ("pruned", n.pruned),
        ("re-evaluated with a second seed", n.reevaluated),
        ("evaluation seconds", f"{sum(i.seconds for i in trained(inds)):.1f}"),
        (f"of which the {run_head(run)} head", head_time(list(gens)) or "not measured"),
        ("created (UTC)", run.created_at.isoformat(timespec="seconds")),
        ("evonas", run.evonas_version),
    ]  # fmt: skip
    if best is not None:
        m = best.metrics
        summary += [
            ("best genome", Genome.from_json(best.genome).compact()),
            ("best scores", scores_line(m)),
            ("best reconstruction MSE", _fmt(m.recon_loss, 5)), ("best parameters", f"{m.params or 0:,}"),
        ]  # fmt: skip
    parts.append(_section("summary", "Summary", _table(["", ""], summary)))
    parts.append(
        _section(
            "generations", f"{run_objective(run).upper()} and reconstruction loss per generation",
            generations_plot(gens, run_objective(run))
            + "<p>Over the individuals of each generation with measured metrics.</p>",
        )
    )  # fmt: skip
    if gens:
        img, front = pareto_plot(gens, run_objective(run))
        rows = [
            (
                Genome.from_json(i.genome).compact(),
                _fmt(i.score),
                _fmt(i.metrics.recon_loss, 5),
                i.metrics.params,
            )
            for i in front
        ]
        parts.append(_section("pareto", "Pareto front of the last generation",
                              img + _table(["genome", "score", "recon MSE", "params"], rows)))  # fmt: skip
    if best is not None:
        genome = Genome.from_json(best.genome)
        shape = run_input_shape(run)
        layers = infer_shapes(genome, shape)
        layer_rows = [(layer.index, layer.token, "x".join(map(str, layer.shape))) for layer in layers]
        diagram = layer_diagram(genome, shape) + _table(["gene", "layer", "shape after"], layer_rows)
        parts.append(_section("best-genome", f"Best genome {_esc(genome.compact())}", diagram))
        parts.append(_section("lineage", "Lineage of the best individual", lineage_html(best, gens)))
    parts.append(_section("timing", "Time per evaluation", timing_plot(gens)))
    fail_rows = [(g, Genome.from_json(i.genome).compact(), i.error) for g, i in failed]
    fail_table = _table(["generation", "genome", "reason"], fail_rows) if fail_rows else "<p>None.</p>"
    parts.append(_section("failures", f"Failures ({len(failed)})", fail_table))
    parts.append(
        _section("config", "Run configuration", f"<pre>{_esc(json.dumps(run.config, indent=2))}</pre>")
    )
    return _PAGE.format(title=_esc(run.name), body="\n".join(parts))


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{title}</h2>{body}</section>'


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evonas run {title}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 0.9em; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
section {{ margin-bottom: 2em; }} img {{ max-width: 100%; }} ul.tree li {{ margin: 2px 0; }}
</style></head><body>
{body}
</body></html>
"""


def write_report(storage: RunStorage, key: str | int, out: Path) -> Path:
    """Write the report of a run to ``out`` (a new or existing file, never a folder)."""
    if out.is_dir():
        raise NASError(f"--out {out} is a folder: name the HTML file to write, e.g. {out / 'report.html'}.")
    if not out.parent.is_dir():
        raise NASError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    run = storage.get_run(key)
    page = build_report(run, storage.load_generations(run.id))
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)  # an existing report is replaced whole or not at all
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise NASError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    return out
