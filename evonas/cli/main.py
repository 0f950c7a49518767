"""The ``nas`` command: a thin layer that parses flags, builds the config and calls the library.

One module per command group (:mod:`~evonas.cli.search`, :mod:`~evonas.cli.read`,
:mod:`~evonas.cli.export`, :mod:`~evonas.cli.train`, :mod:`~evonas.cli.admin`), each with its
parsers next to its commands; flags of configuration fields take their help, defaults and choices
from the models (:mod:`~evonas.cli.options`). User errors print one line on stderr and exit 1
(usage errors exit 2); ``--debug`` shows the traceback instead. Ctrl-C and SIGTERM stop a command
the same way: a search is marked ``interrupted`` (resumable) and ``nas`` exits 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from evonas import __version__
from evonas.cli import admin, export, read, search, train
from evonas.cli.options import EXIT_ERROR, EXIT_INTERRUPTED, Parser, debug_flag, parent
from evonas.errors import NASError
from evonas.storage import default_db_url
from evonas.storage.urls import sqlite_path

log = logging.getLogger("evonas")

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nas",
        description="evonas: evolve convolutional-autoencoder architectures with a genetic algorithm.",
    )
    parser.add_argument("--version", action="version", version=f"evonas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = parent(debug_flag)
    for group in (search, read, export, train, admin):
        group.add(sub, common)
    return parser


# -- process set-up ----------------------------------------------------------------------
def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (kill, systemd, docker stop, ray job stop) like Ctrl-C: stop, mark the run
    interrupted, exit 130."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def default_log_file(db: str) -> Path:
    """Beside an SQLite database (``runs/evonas.db`` -> ``runs/evonas.log``), else ./evonas.log."""
    path = sqlite_path(db)
    return Path("evonas.log") if path is None else path.with_suffix(".log")


def _configure_logging(args: argparse.Namespace) -> None:
    """evonas's own messages go to the terminal; everything else (Ray, PyTorch warnings) only to
    the log file of ``run`` and ``resume``."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if args.debug else logging.INFO)
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(
        logging.DEBUG if args.debug else logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    )
    terminal.setFormatter(logging.Formatter("%(message)s"))
    if not args.debug:
        terminal.addFilter(lambda r: r.name.startswith("evonas") or r.levelno >= logging.ERROR)
    root.addHandler(terminal)
    if args.command in ("run", "resume"):
        import ray  # its import installs a terminal handler on the "ray" logger; send Ray to the file

        ray_logger = logging.getLogger(ray.__name__)
        ray_logger.handlers.clear()
        ray_logger.propagate = True
        path = args.log_file or default_log_file(args.db or default_db_url())
        try:
            handler = logging.FileHandler(path)
        except OSError as exc:
            msg = f"nas: error: cannot write the log file {path}: {exc.strerror} (use --log-file)"
            raise SystemExit(msg) from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    logging.captureWarnings(True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    _interrupt_on_sigterm()
    command: Command = args.func
    try:
        return command(args)
    except NASError as exc:
        if args.debug:
            raise
        print(f"nas: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`nas show --json | head -1`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's final flush does not complain
        return 0


if __name__ == "__main__":
    sys.exit(main())
