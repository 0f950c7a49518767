"""Read-side views of stored runs, below both the CLI and the dashboard: the figures of a run
(:mod:`~evonas.views.runs`), its live progress (:mod:`~evonas.views.progress`), the tables and JSON
of ``nas show`` / ``runs`` / ``compare`` (:mod:`~evonas.views.tables`) and the HTML report
(:mod:`~evonas.views.report`). Nothing here writes, and nothing imports torch or Ray."""

from evonas.views.progress import RunProgress, StoredProgress, progress_from_storage, progress_of
from evonas.views.runs import (
    Counts,
    Curves,
    best_individual,
    counts,
    curves,
    individuals,
    run_head,
    scores_line,
    shown_status,
    trained,
    wall_seconds,
)
from evonas.views.tables import individual_json, load_run_json, run_json

__all__ = [
    "Counts",
    "Curves",
    "RunProgress",
    "StoredProgress",
    "best_individual",
    "counts",
    "curves",
    "individual_json",
    "individuals",
    "load_run_json",
    "progress_from_storage",
    "progress_of",
    "run_head",
    "run_json",
    "scores_line",
    "shown_status",
    "trained",
    "wall_seconds",
]
