"""``nas run`` and ``nas resume``: the commands that drive a search."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evonas.cli.options import (
    ModelFlag,
    db_flag,
    default_text,
    duration,
    given_values,
    model_default,
    model_flag,
    parent,
    ray_address_default,
    run_key,
)
from evonas.errors import NASError
from evonas.nas.config import DatasetConfig, RunConfig
from evonas.nas.pruning import PruningConfig
from evonas.values import Budget

if TYPE_CHECKING:
    from evonas.storage import RunInfo

_RUN_FLAGS: list[ModelFlag] = []  # the flags of nas run that set RunConfig values


def driver_flags(p: argparse.ArgumentParser) -> None:
    """Flags of the commands that drive a search (run, resume)."""
    model_flag(p, "--cpus", RunConfig, "cpus", metavar="N")
    p.add_argument(
        "--address", metavar="ADDR", default=ray_address_default(),
        help="join this Ray cluster ('auto': the one running on this machine) instead of starting an "
        "isolated local one (default: $RAY_ADDRESS)",
    )  # fmt: skip
    p.add_argument(
        "--reuse", action="store_true",
        help="reuse evaluations of other runs in the database with the same data and budget",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--time-budget", type=duration, metavar="T",
        help="stop starting generations that would overrun T of wall time (900s, 45m, 2h); the run "
        "ends 'finished' with its best stored, and 'nas resume --time-budget T' carries on. Without "
        "--generations, generations go on until the time is spent",
    )  # fmt: skip
    p.add_argument(
        "--log-file", type=Path, metavar="PATH",
        help="where Ray's and PyTorch's messages go (default: beside the SQLite file, *.log)",
    )  # fmt: skip


def shares(text: str) -> tuple[float, ...]:
    """``0.25,0.5`` -> (0.25, 0.5), for ``--rungs``."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected shares such as 0.25,0.5, got {text!r}") from None
    from evonas.nas.pruning import check_checkpoints

    try:
        return check_checkpoints(values)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. 0.25,0.5)") from None


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser(
        "run", parents=[common, parent(driver_flags)], help="start an evolution run",
        description="Evolve CAE architectures and record every generation in the database. "
        "Generation 0 is the initial population; --generations N evolves N more.",
    )  # fmt: skip
    db_flag(run, from_config=True)
    run.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML or YAML file of options (flags override it)"
    )
    flags = _RUN_FLAGS
    flags.clear()
    flags.append(model_flag(run, "--name", RunConfig, "name"))
    for flag, field, metavar in (
        ("--dataset", "name", None), ("--data-dir", "data_dir", "PATH"), ("--layout", "layout", None),
        ("--subset", "subset", "N"), ("--val-size", "val_size", "N"), ("--clusters", "clusters", "K"),
    ):  # fmt: skip
        flags.append(model_flag(run, flag, DatasetConfig, field, path=("dataset", field), metavar=metavar))
    for flag, field, metavar in (
        ("--population", "population", "N"), ("--generations", "generations", "N"), ("--seed", "seed", "N"),
    ):  # fmt: skip
        flags.append(model_flag(run, flag, RunConfig, field, metavar=metavar))
    for flag, field, metavar in (
        ("--epochs", "epochs", "N"),
        ("--steps", "steps", "N"),
        ("--head", "head", None),
        ("--objective", "objective", None),
        ("--lr", "lr", "LR"),
    ):
        flags.append(model_flag(run, flag, Budget, field, path=("budget", field), metavar=metavar))
    for flag, field, metavar in (
        ("--cpus-per-trial", "cpus_per_trial", "N"), ("--gpus-per-trial", "gpus_per_trial", "N"),
        ("--trial-timeout", "trial_timeout", "S"), ("--weights-dir", "weights_dir", "PATH"),
        ("--mode", "mode", None), ("--strategy", "strategy", None), ("--reevaluate", "reevaluate", "N"),
    ):  # fmt: skip
        flags.append(model_flag(run, flag, RunConfig, field, metavar=metavar))
    run.add_argument(
        "--no-pruning", action="store_true",
        help="evaluate every candidate fully (default: offspring clearly worse than their parents "
        "at a checkpoint of the budget stop there, status 'pruned')",
    )  # fmt: skip
    run.add_argument(
        "--rungs", type=shares, metavar="SHARES",
        help="successive halving: the shares of each evaluation's budget at which offspring are "
        "checked against their parents there, e.g. 0.25,0.5 (default: "
        f"{default_text(model_default(PruningConfig, 'checkpoints'))}); each must come after "
        f"{model_default(PruningConfig, 'min_steps')} optimiser steps",
    )  # fmt: skip
    run.add_argument(
        "--seed-genome", action="append", metavar="GENOME", dest="seed_genome",
        help=RunConfig.model_fields["seed_genomes"].description,
    )  # fmt: skip
    run.add_argument("--seed-from", metavar="RUN", help="start generation 0 with the best genomes of RUN")
    run.add_argument(
        "--seed-top", type=int, default=3, metavar="K", help="how many of --seed-from's best (default: 3)"
    )
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser(
        "resume", parents=[common, parent(run_key, db_flag, driver_flags)],
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


def run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration the flags of ``nas run`` give, nested as RunConfig's input."""
    out = given_values(args, _RUN_FLAGS)
    extra = {"db": args.db, "cpus": args.cpus, "address": args.address, "time_budget": args.time_budget}
    out |= {k: v for k, v in extra.items() if v is not None}
    if args.seed_genome:
        out["seed_genomes"] = tuple(args.seed_genome)
    if args.no_pruning:
        out["pruning"] = {"enabled": False}
    elif args.rungs:
        out["pruning"] = {"checkpoints": args.rungs}
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from evonas.nas.config import build_config

    if args.seed_top < 1:
        raise NASError(f"The '--seed-top' option must be at least 1. Got {args.seed_top} instead.")
    config = build_config(args.config, run_overrides(args))  # bad options fail before torch and Ray load
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import run_search

    run = run_search(
        config, progress=None if args.quiet else progress_for(), reuse=args.reuse,
        seed_from=args.seed_from, seed_top=args.seed_top,
    )  # fmt: skip
    return print_outcome(run, config.db)


def cmd_resume(args: argparse.Namespace) -> int:
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import resume_search

    run = resume_search(
        args.run, args.db, generations=args.generations, progress=None if args.quiet else progress_for(),
        reuse=args.reuse, address=args.address, cpus=args.cpus, time_budget=args.time_budget,
    )  # fmt: skip
    return print_outcome(run, args.db)


def print_outcome(run: RunInfo, db: str) -> int:
    from evonas.statuses import RunStatus
    from evonas.storage import SQLStorage
    from evonas.views.runs import best_individual
    from evonas.views.tables import best_line, nothing_scored

    with SQLStorage(db, create=False) as storage:
        gens = storage.load_generations(run.id)
        safe_db = storage.safe_url
    best = best_individual(gens)
    print(f"run {run.name} {run.status}" + (f" ({run.stop_reason})" if run.stop_reason else ""))
    if best:
        print(f"best: {best_line(best)}")
    elif run.status == RunStatus.FINISHED:
        print(nothing_scored(gens), file=sys.stderr)
    print(f"show it with: nas show {run.name} --db {safe_db}")
    return 0
