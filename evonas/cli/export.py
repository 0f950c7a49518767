"""``nas export``: a run's genome as a self-contained PyTorch bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evonas.cli.options import db_flag, parent, run_key


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser(
        "export", parents=[common, parent(run_key, db_flag)],
        help="write a run's best genome as a self-contained PyTorch bundle",
        description="Write genome.json, model.safetensors (the weights from its evaluation) and model.py "
        "(plain PyTorch, needs nothing of evonas) into DIR.",
    )  # fmt: skip
    which = export.add_mutually_exclusive_group()
    which.add_argument("--rank", type=int, metavar="K", help="the K-th best genome (default: 1, the best)")
    which.add_argument("--hash", metavar="H", help="the genome with this hash (a unique prefix is enough)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="the bundle folder")
    export.add_argument(
        "--force", action="store_true", help="write into DIR even if it is not empty (replacing a bundle)"
    )
    export.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from evonas.export import export_run
    from evonas.metrics import Metrics
    from evonas.storage import SQLStorage
    from evonas.storage.weights import default_weights_dir
    from evonas.views.runs import scores_line
    from evonas.views.tables import run_input_shape

    with SQLStorage(args.db, create=False) as storage:
        run = storage.get_run(args.run)
        weights_dir = Path(run.config.get("weights_dir") or default_weights_dir(args.db))
        bundle = export_run(storage, weights_dir, args.run, args.out, run_input_shape(run),
                            rank=args.rank, genome_hash=args.hash, force=args.force)  # fmt: skip
    m = bundle.meta["metrics"]
    print(f"exported {bundle.genome.compact()} (rank {m['rank']}, {scores_line(Metrics.from_mapping(m))}) "
          f"to {bundle.directory}")  # fmt: skip
    print(f"train it with: nas train {bundle.directory}")
    return 0
