"""The commands that read the database: ``runs``, ``status``, ``show``, ``report``, ``compare``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evonas.cli.options import db_flag, json_flag, parent, run_key


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    one_run = parent(run_key, db_flag)
    p = sub.add_parser("runs", parents=[common, parent(db_flag)], help="list the runs in a database")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser(
        "status", parents=[common, one_run, parent(json_flag)],
        help="the progress figures of a run, also while it runs in another process",
    )  # fmt: skip
    p.set_defaults(func=cmd_status)
    p = sub.add_parser(
        "show", parents=[common, one_run, parent(json_flag)],
        help="per-generation summary and best individual of a run",
    )  # fmt: skip
    p.set_defaults(func=cmd_show)
    p = sub.add_parser(
        "report", parents=[common, one_run], help="write a self-contained HTML report of a run"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "compare",
        parents=[common, parent(db_flag)],
        help="best metrics, evaluations and time of several runs",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run names or ids")
    p.set_defaults(func=cmd_compare)


def cmd_runs(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage
    from evonas.views.tables import runs_table

    with SQLStorage(args.db, create=False) as storage:
        table = runs_table(storage)
        safe_db = storage.safe_url
    print(table if table is not None else f"no runs in {safe_db}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage
    from evonas.views.runs import best_individual, run_head, shown_status
    from evonas.views.tables import best_line, generations_table, head_time, run_json

    with SQLStorage(args.db, create=False) as storage:
        run = storage.get_run(args.run)
        gens = storage.load_generations(run.id)
    if args.json:
        print(json.dumps(run_json(run, gens), indent=2))
        return 0
    stopped = f" ({run.stop_reason})" if run.stop_reason else ""
    print(f"run {run.name} (id {run.id}): {shown_status(run)}{stopped}, seed {run.seed}")
    print(generations_table(gens))
    best = best_individual(gens)
    if best:
        print(f"best: {best_line(best)} (hash {best.hash})")
    if (spent := head_time(gens)) is not None:
        print(f"evaluation time in the {run_head(run)} head: {spent}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage
    from evonas.views.progress import progress_from_storage

    with SQLStorage(args.db, create=False) as storage:
        progress = progress_from_storage(storage, args.run)
    print(json.dumps(asdict(progress)) if args.json else progress.render())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage
    from evonas.views.report import write_report

    with SQLStorage(args.db, create=False) as storage:
        out = write_report(storage, args.run, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage
    from evonas.views.tables import compare_table

    with SQLStorage(args.db, create=False) as storage:
        print(compare_table(storage, args.runs))
    return 0
