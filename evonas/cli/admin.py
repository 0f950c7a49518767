"""``nas data download``, ``nas db upgrade`` and ``nas dashboard``: datasets, the database, the page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evonas.cli.options import db_flag, parent
from evonas.errors import ConfigError, NASError
from evonas.storage import mask_password


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    data = sub.add_parser("data", help="dataset files")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    dl = actions.add_parser(
        "download", parents=[common], help="fetch a dataset's official files (needs the internet)"
    )
    dl.add_argument("name", metavar="NAME", help="mnist, fashion-mnist or cifar10")
    dl.add_argument("--data-dir", type=Path, required=True, metavar="PATH", help="where to put the files")
    dl.set_defaults(func=cmd_data_download)

    db = sub.add_parser("db", help="the database itself")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "upgrade", parents=[common, parent(db_flag)],
        help="upgrade a database to this evonas's schema",
        description="Upgrade the database's schema to the newest revision this evonas knows (Alembic "
        "migrations, in one transaction). Commands that open the database upgrade it too.",
    )  # fmt: skip
    up.set_defaults(func=cmd_db_upgrade)

    dash = sub.add_parser(
        "dashboard", parents=[common, parent(db_flag)],
        help="a live, read-only web page of the runs in a database",
        description="Serve a web page listing the runs of --db (status, dataset, best ACC / NMI, "
        "evaluations, elapsed) and, for each run, its curves, population, Pareto front (nsga2) and "
        "failures, updating by itself while a search runs. Read-only: it never writes to the "
        "database (an older schema is refused, not upgraded). Everything it serves ships with evonas.",
    )  # fmt: skip
    dash.add_argument("--port", type=int, default=8765, metavar="N", help="default: 8765 (0: any free port)")
    dash.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only). Another address shows "
        "your runs, configurations and errors to anyone who can reach it: the page has no login.",
    )  # fmt: skip
    dash.set_defaults(func=cmd_dashboard)


def cmd_data_download(args: argparse.Namespace) -> int:
    from evonas.datasets.download import download

    path = download(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}: use --dataset {args.name} --data-dir {path}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from evonas.storage import SQLStorage, head_revision

    with SQLStorage(args.db, create=False) as storage:
        before, url = storage.revision_before, storage.safe_url
    head = head_revision()
    if before == head:
        print(f"{url} is at schema revision {head}, the newest this evonas knows: nothing to do")
    else:
        print(f"upgraded {url} from schema revision {before} to {head}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from evonas.dashboard import make_server, serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535. Got {args.port} instead.")
    try:
        server = make_server(args.db, args.host, args.port)
    except OSError as exc:
        raise NASError(
            f"Cannot listen on {args.host}:{args.port} ({exc.strerror}): pick another --port."
        ) from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}, not only this machine: anyone who reaches it sees these runs",
              file=sys.stderr)  # fmt: skip
    print(f"dashboard of {mask_password(args.db)} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    serve(server)
    return 0
