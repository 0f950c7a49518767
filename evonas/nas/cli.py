"""The ``nas`` command: a thin layer that parses flags, builds the config and calls the library.

Each command has a parser function and a command function; flags shared by several commands come
from small parent parsers, so each is written once. User errors print one line on stderr and exit
1 (usage errors exit 2); ``--debug`` shows the traceback instead. Ctrl-C and SIGTERM stop a
command the same way: a search is marked ``interrupted`` (resumable) and ``nas`` exits 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from evonas import __version__
from evonas.errors import ConfigError, NASError
from evonas.storage import DEFAULT_DB_URL, default_db_url, mask_password
from evonas.storage.urls import DB_ENV

if TYPE_CHECKING:
    from evonas.storage import RunInfo

log = logging.getLogger("evonas")

EXIT_ERROR = 1  # a user error: one line on stderr
EXIT_USAGE = 2  # argparse's usage errors
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; the run is marked interrupted and can be resumed

Command = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: what is wrong and where to read more (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- flags shared between commands --------------------------------------------------------
def _parent(*adders: Callable[[argparse.ArgumentParser], object]) -> argparse.ArgumentParser:
    parent = Parser(add_help=False)
    for add in adders:
        add(parent)
    return parent


def _debug(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def _db(p: argparse.ArgumentParser, *, from_config: bool = False) -> None:
    """--db; for nas run no default here, so a configuration file may name the database."""
    p.add_argument(
        "--db", default=None if from_config else default_db_url(), metavar="URL",
        help=f"SQLAlchemy URL or SQLite file, e.g. postgresql+psycopg://USER@HOST:PORT/NAME (default: "
        f"${DB_ENV}, else {DEFAULT_DB_URL})",
    )  # fmt: skip


def _duration(text: str) -> float:
    from evonas.nas.config import parse_duration

    try:
        seconds = parse_duration(text)
        if not isinstance(seconds, float) or seconds <= 0:
            raise ValueError(f"must be a positive duration such as 900s, 45m or 2h. Got {text!r} instead.")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return seconds


def _run_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run name or id")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _driver(p: argparse.ArgumentParser) -> None:
    """Flags of the commands that drive a search (run, resume)."""
    p.add_argument("--cpus", type=int, metavar="N", help="CPUs for the local Ray instance (default: all)")
    p.add_argument(
        "--address", metavar="ADDR", default=os.environ.get("RAY_ADDRESS") or None,
        help="join this Ray cluster ('auto': the one running on this machine) instead of starting an "
        "isolated local one (default: $RAY_ADDRESS)",
    )  # fmt: skip
    p.add_argument(
        "--reuse", action="store_true",
        help="reuse evaluations of other runs in the database with the same data and budget",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--time-budget", type=_duration, metavar="T",
        help="stop starting generations that would overrun T of wall time (900s, 45m, 2h); the run "
        "ends 'finished' with its best stored, and 'nas resume --time-budget T' carries on. Without "
        "--generations, generations go on until the time is spent",
    )  # fmt: skip
    p.add_argument(
        "--log-file", type=Path, metavar="PATH",
        help="where Ray's and PyTorch's messages go (default: beside the SQLite file, *.log)",
    )  # fmt: skip


# -- the commands' parsers ------------------------------------------------------------------
def _add_run(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser(
        "run", parents=[common, _parent(_driver)], help="start an evolution run",
        description="Evolve CAE architectures and record every generation in the database. "
        "Generation 0 is the initial population; --generations N evolves N more.",
    )  # fmt: skip
    _db(run, from_config=True)
    run.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML or YAML file of options (flags override it)"
    )
    run.add_argument("--name", help="unique run name (default: generated and printed)")
    run.add_argument(
        "--dataset", help="digits (default, built in), mnist, fashion-mnist, cifar10, or FILE.npz"
    )
    run.add_argument("--data-dir", type=Path, metavar="PATH", help="folder with the dataset's files")
    run.add_argument(
        "--layout", choices=["auto", "nchw", "nhwc"],
        help="how a 4-d array of an .npz file is laid out (default auto: channels last when the last "
        "axis has 1, 3 or 4 entries and axis 1 has not; when both could, channels last)",
    )  # fmt: skip
    run.add_argument("--subset", type=int, metavar="N", help="use at most N training images")
    run.add_argument("--val-size", type=int, metavar="N", help="validation images fitness is scored on (400)")
    run.add_argument(
        "--clusters", type=int, metavar="K",
        help="clusters k-means looks for (default: the number of classes; required without labels)",
    )  # fmt: skip
    run.add_argument("--population", type=int, metavar="N", help="survivors per generation (default: 10)")
    run.add_argument(
        "--generations", type=int, metavar="N", help="generations after generation 0 (default: 5)"
    )
    run.add_argument("--seed", type=int, metavar="N", help="root random seed (default: 0)")
    run.add_argument(
        "--epochs", type=int, metavar="N",
        help="training epochs per candidate (default: 10 for images under 16x16; larger images get "
        "--steps 1000 instead)",
    )  # fmt: skip
    run.add_argument(
        "--steps", type=int, metavar="N",
        help="optimiser steps per candidate, turned into whole epochs over the training images",
    )  # fmt: skip
    run.add_argument(
        "--head", choices=["kmeans", "umap-gmm"],
        help="how a candidate's codes become clusters: kmeans or umap-gmm (N2D's UMAP + Gaussian "
        "mixture, ~5 s more per evaluation); default: umap-gmm for images of 16x16 and more, kmeans "
        "for smaller ones (see the README)",
    )  # fmt: skip
    run.add_argument(
        "--lr", type=float, metavar="LR",
        help="Adam learning rate of candidates without a recipe of their own: seeded genomes, or a space "
        "without recipes (default 3e-3; 1e-3 for images of 16x16 and more); evolved candidates train "
        "at their recipe's rate",
    )  # fmt: skip
    run.add_argument("--cpus-per-trial", type=float, metavar="N", help="CPUs per evaluation (default: 1)")
    run.add_argument(
        "--gpus-per-trial", type=float, metavar="N",
        help="GPUs per evaluation, fractions allowed (default: 0, the CPU)",
    )  # fmt: skip
    run.add_argument(
        "--trial-timeout", type=float, metavar="S", help="fail an evaluation still training after S s"
    )
    run.add_argument(
        "--weights-dir", type=Path, metavar="PATH",
        help="where the best candidates' weights are kept (default: beside an SQLite file; for other "
        "databases a folder every machine that exports can read, else ./evonas-weights)",
    )  # fmt: skip
    run.add_argument(
        "--mode", choices=["generational", "steady-state"],
        help="generational (default, reproducible) or steady-state: no generation barrier, every "
        "finished evaluation at once starts the next child (regularised evolution with ageing; "
        "resumable, not bit-reproducible; no pruning or re-evaluation)",
    )  # fmt: skip
    run.add_argument(
        "--strategy", choices=["ga", "random"],
        help="ga (default): offspring by crossover and mutation; random: random search, the baseline",
    )  # fmt: skip
    run.add_argument(
        "--no-pruning", action="store_true",
        help="evaluate every candidate fully (default: offspring clearly worse than their parents "
        "at a checkpoint of the budget stop there, status 'pruned')",
    )  # fmt: skip
    run.add_argument(
        "--rungs", type=_shares, metavar="SHARES",
        help="successive halving: the shares of each evaluation's budget at which offspring are "
        "checked against their parents there, e.g. 0.25,0.5 (default: 0.5); each must come after "
        "500 optimiser steps",
    )  # fmt: skip
    run.add_argument(
        "--seed-genome", action="append", metavar="GENOME",
        help="start generation 0 with this genome: a compact form (c32k3-pmax-d10, with an optional "
        "+aug:...,noise:...,lr:... recipe) or a reference name (kcae, small); repeatable",
    )  # fmt: skip
    run.add_argument("--seed-from", metavar="RUN", help="start generation 0 with the best genomes of RUN")
    run.add_argument(
        "--seed-top", type=int, default=3, metavar="K", help="how many of --seed-from's best (default: 3)"
    )
    run.add_argument(
        "--reevaluate", type=int, metavar="N",
        help="best new candidates per generation evaluated again with a second seed (default: 2)",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)


def _add_resume(sub: Any, common: argparse.ArgumentParser) -> None:
    resume = sub.add_parser(
        "resume", parents=[common, _parent(_run_key, _db, _driver)],
        help="continue a run from its last stored generation",
        description="Continue a run from its last completed generation, whatever stopped it (Ctrl-C, "
        "SIGTERM, a crash, SIGKILL, a reboot). Evaluations that were in flight run again; nothing stored "
        "is recomputed. The run's stored configuration is used; only --generations may grow.",
    )  # fmt: skip
    resume.add_argument(
        "--generations", type=int, metavar="N", help="evolve up to generation N (extend a run)"
    )
    resume.add_argument(
        "--force", action="store_true",
        help="no longer needed, kept for scripts: a run whose driver has stopped (its heartbeat is "
        "stale, or its process on this machine has ended) is taken over; a live one never is",
    )  # fmt: skip
    resume.set_defaults(func=cmd_resume)


def _add_readers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The commands that read the database: runs, status, show, report, compare."""
    one_run = _parent(_run_key, _db)
    p = sub.add_parser("runs", parents=[common, _parent(_db)], help="list the runs in a database")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser(
        "status", parents=[common, one_run, _parent(_json)],
        help="the progress figures of a run, also while it runs in another process",
    )  # fmt: skip
    p.set_defaults(func=cmd_status)
    p = sub.add_parser(
        "show", parents=[common, one_run, _parent(_json)],
        help="per-generation summary and best individual of a run",
    )  # fmt: skip
    p.set_defaults(func=cmd_show)
    p = sub.add_parser(
        "report", parents=[common, one_run], help="write a self-contained HTML report of a run"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "compare", parents=[common, _parent(_db)], help="best metrics, evaluations and time of several runs"
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run names or ids")
    p.set_defaults(func=cmd_compare)


def _add_export(sub: Any, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser(
        "export", parents=[common, _parent(_run_key, _db)],
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


# nas train's fine-tuning options: (flag, type, metavar, help). None = the method's default.
FINETUNE_OPTIONS: tuple[tuple[str, Any, str, str], ...] = (
    ("--finetune-iterations", int, "N", "at most N iterations (default: 8000, the EDCWRN notebook's)"),
    ("--update-interval", int, "T", "iterations between target-distribution updates (default: 140)"),
    (
        "--stop-tol",
        float,
        "SHARE",
        "stop when fewer than SHARE of the labels change between two updates (default: 0.001)",
    ),
    (
        "--cluster-weight",
        float,
        "W",
        "weight of the clustering loss beside the reconstruction's (default: 0.1)",
    ),
    (
        "--finetune-optimizer",
        str,
        "{adam,sgd}",
        "default: sgd with momentum 0.9 for edcwrn, as its authors; adam for idec",
    ),
    ("--finetune-lr", float, "LR", "default: 1 for edcwrn, as its authors; 1e-4 for idec"),
    (
        "--finetune-augment",
        str,
        "{none,weak,medium,strong}",
        "random affine augmentation of the "
        "samples and their neighbours (default: medium for edcwrn, as its authors; the bundle's recipe "
        "for idec, as DEC-DA)",
    ),
    (
        "--finetune-centres",
        str,
        "{kmeans,head}",
        "initial cluster centres: k-means on the codes, as the papers (default), or the mean code of "
        "each cluster the head found before fine-tuning",
    ),
    (
        "--finetune-kmeans-init",
        int,
        "N",
        "k-means restarts for the initial centres (default: 150 for edcwrn, as its authors; 20 for idec)",
    ),
    ("--kernel-a", float, "A", "EDCWRN kernel (1 + A d^B)^-1 (default: 1.93)"),
    ("--kernel-b", float, "B", "default: 0.79"),
    ("--neighbours", int, "K", "EDCWRN nearest neighbours added to each embedding (default: 2; 0: none)"),
    ("--feature-beta", float, "BETA", "EDCWRN feature-weight exponent, > 1 (default: 2)"),
    (
        "--feature-lambda",
        float,
        "L",
        "EDCWRN share of each feature's variance added to its dispersion (default: 0.1)",
    ),
    (
        "--reliable-start",
        float,
        "B1",
        "EDCWRN: a sample trains when its top probability is >= B1 and "
        "its top-two gap >= B1/2, in Q and P (default: -0.9, the authors': every sample)",
    ),
    (
        "--reliable-step",
        float,
        "S",
        "EDCWRN: lower both thresholds by S whenever fewer samples are reliable, while both are "
        "in [0, 1] (default: 0.09)",
    ),
)


def _add_finetune_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fine-tuning (with --finetune; defaults are the methods' own)")
    for flag, kind, metavar, text in FINETUNE_OPTIONS:
        choices = metavar.strip("{}").split(",") if metavar.startswith("{") else None
        group.add_argument(flag, type=kind, metavar=None if choices else metavar, choices=choices, help=text)


def _finetune_args(args: argparse.Namespace) -> dict[str, Any]:
    """The fine-tuning options the user gave, keyed as FinetuneConfig's fields."""
    from evonas.training.finetune import FLAGS

    given = {field: getattr(args, flag.lstrip("-").replace("-", "_")) for field, flag in FLAGS.items()}
    return {field: value for field, value in given.items() if value is not None}


def _add_train(sub: Any, common: argparse.ArgumentParser) -> None:
    train = sub.add_parser(
        "train", parents=[common, _parent(_json)],
        help="train an exported architecture fully, cluster its codes and score the clusters",
        description="Train the bundle's autoencoder (with its recipe), cluster the codes with --head and "
        "report ACC, NMI, ARI, per-class precision / recall / F1 and the confusion matrix (or, without "
        "labels, the silhouette); save trained.safetensors, metrics.json, clusters.csv, codes.npy and "
        "pictures into DIR/PROTOCOL/.",
    )  # fmt: skip
    train.add_argument("dir", type=Path, metavar="DIR", help="a bundle written by nas export")
    train.add_argument(
        "--dataset", help="dataset name or .npz file (default: the one the bundle was searched on)"
    )
    train.add_argument(
        "--data-dir",
        type=Path,
        metavar="PATH",
        help="folder with its files (default: the search's)",
    )
    train.add_argument(
        "--epochs", type=int, default=10, metavar="N", help="reconstruction training epochs (default: 10)"
    )
    train.add_argument("--batch-size", type=int, default=256, metavar="N")
    train.add_argument(
        "--lr", type=float, help="Adam learning rate (default: the bundle's recipe, else 1e-3)"
    )
    train.add_argument(
        "--augment", choices=["none", "weak", "medium", "strong"],
        help="random affine augmentation (default: the bundle's recipe, else none)",
    )  # fmt: skip
    train.add_argument(
        "--noise",
        type=float,
        metavar="STD",
        help="denoising input noise (default: the bundle's recipe, else 0)",
    )
    train.add_argument(
        "--head", choices=["kmeans", "umap-gmm"], default="umap-gmm",
        help="how codes become clusters: umap-gmm (default: UMAP to k dimensions, then a Gaussian "
        "mixture, as N2D does; a minute or two more on 70k images) or kmeans",
    )  # fmt: skip
    train.add_argument(
        "--protocol", choices=["heldout", "transductive"], default="heldout",
        help="heldout (default): train without the test split, score on it; transductive: train, "
        "cluster and score on every image, as the papers do. Results go to DIR/PROTOCOL/",
    )  # fmt: skip
    train.add_argument(
        "--clusters", type=int, metavar="K",
        help="clusters to find (default: the number of classes; required without labels)",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0, metavar="N")
    train.add_argument(
        "--from-scratch", action="store_true", help="start from fresh weights, not the exported ones"
    )
    train.add_argument("--finetune", choices=["idec", "edcwrn"], help="clustering fine-tuning after training")
    _add_finetune_options(train)
    train.add_argument("--classifier", choices=["probe", "finetune"], help="a softmax head on the labels")
    train.add_argument("--classifier-epochs", type=int, default=10, metavar="N")
    train.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    train.set_defaults(func=cmd_train)


def _add_cluster(sub: Any, common: argparse.ArgumentParser) -> None:
    cluster = sub.add_parser(
        "cluster", parents=[common],
        help="assign new images to the clusters a trained bundle found",
        description="Encode the images of --dataset with the weights nas train left in BUNDLE/PROTOCOL/ "
        "and assign each to a cluster of its fitted head (k-means: the nearest centre; umap-gmm: its "
        "UMAP embedding placed by its 10 nearest stored codes, then the Gaussian mixture); writes "
        "clusters.csv and codes.npy into --out.",
    )  # fmt: skip
    cluster.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle trained with nas train")
    cluster.add_argument("--dataset", required=True, help="images of the bundle's shape (name or FILE.npz)")
    cluster.add_argument("--data-dir", type=Path, metavar="PATH", help="folder with the dataset's files")
    cluster.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the results go")
    cluster.add_argument(
        "--protocol", choices=["heldout", "transductive"], default="heldout",
        help="which nas train result to use (default: heldout)",
    )  # fmt: skip
    cluster.set_defaults(func=cmd_cluster)


def _add_data(sub: Any, common: argparse.ArgumentParser) -> None:
    data = sub.add_parser("data", help="dataset files")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    dl = actions.add_parser(
        "download", parents=[common], help="fetch a dataset's official files (needs the internet)"
    )
    dl.add_argument("name", metavar="NAME", help="mnist, fashion-mnist or cifar10")
    dl.add_argument("--data-dir", type=Path, required=True, metavar="PATH", help="where to put the files")
    dl.set_defaults(func=cmd_data_download)


def _add_db(sub: Any, common: argparse.ArgumentParser) -> None:
    db = sub.add_parser("db", help="the database itself")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "upgrade", parents=[common, _parent(_db)],
        help="upgrade a database to this evonas's schema",
        description="Upgrade the database's schema to the newest revision this evonas knows (Alembic "
        "migrations, in one transaction). Commands that open the database upgrade it too.",
    )  # fmt: skip
    up.set_defaults(func=cmd_db_upgrade)


def _add_dashboard(sub: Any, common: argparse.ArgumentParser) -> None:
    dash = sub.add_parser(
        "dashboard", parents=[common, _parent(_db)],
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nas",
        description="evonas: evolve convolutional-autoencoder architectures with a genetic algorithm.",
    )
    parser.add_argument("--version", action="version", version=f"evonas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _parent(_debug)
    for add in (
        _add_run,
        _add_resume,
        _add_readers,
        _add_export,
        _add_train,
        _add_cluster,
        _add_data,
        _add_db,
        _add_dashboard,
    ):
        add(sub, common)
    return parser


# -- the commands ---------------------------------------------------------------------------
def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The options a user set: flags left out are None and leave the config file's values."""
    return {k: v for k, v in values.items() if v is not None}


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    flat = {
        "name": args.name, "population": args.population, "generations": args.generations,
        "seed": args.seed, "db": args.db, "cpus": args.cpus, "address": args.address,
        "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
        "trial_timeout": args.trial_timeout, "reevaluate": args.reevaluate, "strategy": args.strategy,
        "mode": args.mode,
        "time_budget": args.time_budget, "weights_dir": args.weights_dir,
        "seed_genomes": tuple(args.seed_genome) if args.seed_genome else None,
    }  # fmt: skip
    sections = {
        "dataset": {
            "name": args.dataset, "data_dir": args.data_dir, "subset": args.subset,
            "val_size": args.val_size, "clusters": args.clusters, "layout": args.layout,
        },
        "budget": {"epochs": args.epochs, "steps": args.steps, "lr": args.lr, "head": args.head},
    }  # fmt: skip
    out: dict[str, Any] = _given(flat)
    out |= {name: given for name, values in sections.items() if (given := _given(values))}
    if args.no_pruning:
        out["pruning"] = {"enabled": False}
    elif args.rungs:
        out["pruning"] = {"checkpoints": args.rungs}
    return out


def _shares(text: str) -> tuple[float, ...]:
    """``0.25,0.5`` -> (0.25, 0.5), for ``--rungs``."""
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected shares such as 0.25,0.5, got {text!r}") from None
    from evonas.nas.pruning import check_checkpoints

    try:
        return check_checkpoints(shares)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. 0.25,0.5)") from None


def cmd_run(args: argparse.Namespace) -> int:
    from evonas.nas.config import build_config
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import run_search

    if args.seed_top < 1:
        raise NASError(f"The '--seed-top' option must be at least 1. Got {args.seed_top} instead.")
    config = build_config(args.config, _run_overrides(args))
    run = run_search(
        config, progress=None if args.quiet else progress_for(), reuse=args.reuse,
        seed_from=args.seed_from, seed_top=args.seed_top,
    )  # fmt: skip
    return _print_outcome(run, config.db)


def cmd_resume(args: argparse.Namespace) -> int:
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import resume_search

    run = resume_search(
        args.run, args.db, generations=args.generations, progress=None if args.quiet else progress_for(),
        reuse=args.reuse, address=args.address, cpus=args.cpus, time_budget=args.time_budget,
    )  # fmt: skip
    return _print_outcome(run, args.db)


def _print_outcome(run: RunInfo, db: str) -> int:
    from evonas.nas.summary import best_individual, nothing_scored, scores_line
    from evonas.statuses import RunStatus
    from evonas.storage import SQLStorage

    with SQLStorage(db, create=False) as storage:
        gens = storage.load_generations(run.id)
        safe_db = storage.safe_url
    best = best_individual(gens)
    print(f"run {run.name} {run.status}" + (f" ({run.stop_reason})" if run.stop_reason else ""))
    if best:
        from evonas.genomes import Genome

        m = best.metrics
        print(f"best: {Genome.from_json(best.genome).compact()}  {scores_line(m)}  "
              f"recon {m.recon_loss or 0.0:.5f}  params {m.params or 0:,}")  # fmt: skip
    elif run.status == RunStatus.FINISHED:
        print(nothing_scored(gens), file=sys.stderr)
    print(f"show it with: nas show {run.name} --db {safe_db}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from evonas.nas.summary import runs_table
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        table = runs_table(storage)
        safe_db = storage.safe_url
    print(table if table is not None else f"no runs in {safe_db}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from evonas.nas.summary import (
        best_individual,
        generations_table,
        head_time,
        run_head,
        run_json,
        scores_line,
    )
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        run = storage.get_run(args.run)
        gens = storage.load_generations(run.id)
    if args.json:
        print(json.dumps(run_json(run, gens), indent=2))
        return 0
    stopped = f" ({run.stop_reason})" if run.stop_reason else ""
    print(f"run {run.name} (id {run.id}): {run.status}{stopped}, seed {run.seed}")
    print(generations_table(gens))
    best = best_individual(gens)
    if best:
        from evonas.genomes import Genome

        m = best.metrics
        print(f"best: {Genome.from_json(best.genome).compact()} (hash {best.hash})")
        print(f"      {scores_line(m)}  recon {m.recon_loss or 0.0:.5f}  params {m.params or 0:,}")
    if (spent := head_time(gens)) is not None:
        print(f"evaluation time in the {run_head(run)} head: {spent}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from evonas.nas.status import progress_from_storage
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        progress = progress_from_storage(storage, args.run)
    print(json.dumps(asdict(progress)) if args.json else progress.render())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from evonas.nas.report import write_report
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        out = write_report(storage, args.run, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evonas.nas.summary import compare_table
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        print(compare_table(storage, args.runs))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from evonas.export import export_run
    from evonas.nas.summary import run_input_shape, scores_line
    from evonas.storage import SQLStorage
    from evonas.storage.weights import default_weights_dir

    with SQLStorage(args.db, create=False) as storage:
        run = storage.get_run(args.run)
        weights_dir = Path(run.config.get("weights_dir") or default_weights_dir(args.db))
        bundle = export_run(storage, weights_dir, args.run, args.out, run_input_shape(run),
                            rank=args.rank, genome_hash=args.hash, force=args.force)  # fmt: skip
    from evonas.metrics import Metrics

    m = bundle.meta["metrics"]
    print(f"exported {bundle.genome.compact()} (rank {m['rank']}, {scores_line(Metrics.from_mapping(m))}) "
          f"to {bundle.directory}")  # fmt: skip
    print(f"train it with: nas train {bundle.directory}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from evonas.nas.config import format_validation_error
    from evonas.training.train import TrainOptions, train_bundle

    try:
        opts = TrainOptions(
            dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, augment=args.augment, noise=args.noise, head=args.head, protocol=args.protocol,
            clusters=args.clusters, seed=args.seed, from_scratch=args.from_scratch, finetune=args.finetune,
            finetune_options=_finetune_args(args), classifier=args.classifier,
            classifier_epochs=args.classifier_epochs, pictures=not args.no_pictures,
        )  # fmt: skip
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    say = (lambda _msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    metrics = train_bundle(args.dir, opts, say=say)
    if args.json:
        print(json.dumps(metrics))
    else:
        where = "test split" if opts.protocol == "heldout" else "every image"
        scores = (
            f"ACC {metrics['acc']:.4f}  NMI {metrics['nmi']:.4f}  ARI {metrics['ari']:.4f}"
            if metrics["acc"] is not None
            else f"silhouette {metrics['silhouette']:.4f} (no labels: ACC needs them)"
        )
        print(f"{scores}  ({opts.head}, {where}, {metrics['test_size']} images); "
              f"results in {args.dir / opts.protocol}/")  # fmt: skip
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from evonas.training.train import cluster_images

    result = cluster_images(args.bundle, args.dataset, args.data_dir, args.out, args.protocol)
    print(f"{result['images']} images in {len(result['sizes'])} clusters ({result['head']} head), "
          f"sizes {result['sizes']}; clusters.csv and codes.npy in {result['out']}")  # fmt: skip
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    from evonas.datasets.download import download

    path = download(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}: use --dataset {args.name} --data-dir {path}")
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


# -- process set-up ----------------------------------------------------------------------
def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (kill, systemd, docker stop, ray job stop) like Ctrl-C: stop, mark the run
    interrupted, exit 130."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def default_log_file(db: str) -> Path:
    """Beside an SQLite database (``runs/evonas.db`` -> ``runs/evonas.log``), else ./evonas.log."""
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") or "://" not in db else ""
    if path.strip() in ("", ":memory:") or path.startswith("file:"):
        return Path("evonas.log")
    return Path(path).with_suffix(".log")


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
