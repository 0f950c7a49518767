"""The ``nas`` command: a thin layer that parses flags, builds the config and calls the library.

User errors print one line on stderr and exit 1 (usage errors exit 2); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evonas import __version__
from evonas.errors import NASError
from evonas.storage import DEFAULT_DB_URL

if TYPE_CHECKING:
    from evonas.storage import RunInfo

log = logging.getLogger("evonas")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def _db(p: argparse.ArgumentParser, default: str | None = DEFAULT_DB_URL) -> None:
    p.add_argument("--db", default=default, metavar="URL",
                   help=f"SQLAlchemy URL or SQLite file (default: {DEFAULT_DB_URL})")  # fmt: skip


def _log_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="where Ray's and PyTorch's messages go (default: beside the SQLite file, *.log)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas",
        description="evonas: evolve convolutional-autoencoder architectures with a genetic algorithm.",
    )
    parser.add_argument("--version", action="version", version=f"evonas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start an evolution run",
        description="Evolve CAE architectures and record every generation in the database. "
        "Generation 0 is the initial population; --generations N evolves N more.",
    )
    run.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML or YAML file of options (flags override it)"
    )
    run.add_argument("--name", help="unique run name (default: generated and printed)")
    run.add_argument(
        "--dataset", help="digits (default, built in), mnist, fashion-mnist, cifar10, or FILE.npz"
    )
    run.add_argument("--data-dir", type=Path, metavar="PATH", help="folder with the dataset's files")
    run.add_argument("--subset", type=int, metavar="N", help="use at most N training images")
    run.add_argument("--val-size", type=int, metavar="N", help="validation images fitness is scored on (400)")
    run.add_argument(
        "--clusters",
        type=int,
        metavar="K",
        help="clusters k-means looks for (default: the number of classes; required without labels)",
    )
    run.add_argument("--population", type=int, metavar="N", help="survivors per generation (default: 10)")
    run.add_argument(
        "--generations", type=int, metavar="N", help="generations after generation 0 (default: 5)"
    )
    run.add_argument("--seed", type=int, metavar="N", help="root random seed (default: 0)")
    run.add_argument("--epochs", type=int, metavar="N", help="training epochs per candidate (default: 10)")
    run.add_argument("--lr", type=float, metavar="LR", help="Adam learning rate per candidate (default 3e-3)")
    run.add_argument("--cpus", type=int, metavar="N", help="CPUs for the local Ray instance (default: all)")
    run.add_argument(
        "--address",
        metavar="ADDR",
        default=os.environ.get("RAY_ADDRESS") or None,
        help="join this Ray cluster instead of starting one (default: $RAY_ADDRESS)",
    )
    run.add_argument("--cpus-per-trial", type=float, metavar="N", help="CPUs per evaluation (default: 1)")
    run.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="N",
        help="GPUs per evaluation, fractions allowed (default: 0, the CPU)",
    )
    run.add_argument(
        "--trial-timeout", type=float, metavar="S", help="fail an evaluation still training after S s"
    )
    run.add_argument(
        "--strategy",
        choices=["ga", "random"],
        help="ga (default): offspring by crossover and mutation; random: random search, the baseline",
    )
    run.add_argument(
        "--no-pruning",
        action="store_true",
        help="evaluate every candidate fully (default: offspring clearly worse than their parents "
        "at the half-budget checkpoint stop there, status 'pruned')",
    )
    run.add_argument(
        "--reevaluate",
        type=int,
        metavar="N",
        help="best new candidates per generation evaluated again with a second seed (default: 2)",
    )
    run.add_argument(
        "--reuse",
        action="store_true",
        help="reuse evaluations of other runs in the database with the same data and budget",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output")
    _log_file(run)
    _db(run, default=None)
    _common(run)

    resume = sub.add_parser(
        "resume",
        help="continue a run from its last stored generation",
        description="Continue a run from its last completed generation, whatever stopped it (Ctrl-C, a "
        "crash, SIGKILL, a reboot). Evaluations that were in flight run again; nothing stored is "
        "recomputed. The run's stored configuration is used; only --generations may grow.",
    )
    resume.add_argument("run", metavar="RUN", help="run name or id")
    resume.add_argument(
        "--generations", type=int, metavar="N", help="evolve up to generation N (extend a run)"
    )
    resume.add_argument(
        "--cpus", type=int, metavar="N", help="CPUs for the local Ray instance (default: all)"
    )
    resume.add_argument(
        "--address",
        metavar="ADDR",
        default=os.environ.get("RAY_ADDRESS") or None,
        help="join this Ray cluster instead of starting one (default: $RAY_ADDRESS)",
    )
    resume.add_argument("--reuse", action="store_true", help="reuse evaluations of other runs (see nas run)")
    resume.add_argument(
        "--force", action="store_true", help="resume a run marked running whose driver is gone"
    )
    resume.add_argument("--quiet", action="store_true", help="no progress output")
    _log_file(resume)
    _db(resume)
    _common(resume)

    data = sub.add_parser("data", help="dataset files")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dl = data_sub.add_parser("download", help="fetch a dataset's official files (needs the internet)")
    dl.add_argument("name", metavar="NAME", help="mnist, fashion-mnist or cifar10")
    dl.add_argument("--data-dir", type=Path, required=True, metavar="PATH", help="where to put the files")
    _common(dl)
    data.set_defaults(command="data")

    runs = sub.add_parser("runs", help="list the runs in a database")
    _db(runs)
    _common(runs)

    status = sub.add_parser(
        "status", help="the progress figures of a run, also while it runs in another process"
    )
    status.add_argument("run", metavar="RUN", help="run name or id")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    _db(status)
    _common(status)

    report = sub.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("run", metavar="RUN", help="run name or id")
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    _db(report)
    _common(report)

    compare = sub.add_parser("compare", help="best metrics, evaluations and time of several runs")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run names or ids")
    _db(compare)
    _common(compare)

    export = sub.add_parser(
        "export",
        help="write a run's best genome as a self-contained PyTorch bundle",
        description="Write genome.json, model.safetensors (the weights from its evaluation) and model.py "
        "(plain PyTorch, needs nothing of evonas) into DIR.",
    )
    export.add_argument("run", metavar="RUN", help="run name or id")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--rank", type=int, metavar="K", help="the K-th best genome by ACC (default: 1)")
    which.add_argument("--hash", metavar="H", help="the genome with this hash (a unique prefix is enough)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="the bundle folder")
    _db(export)
    _common(export)

    train = sub.add_parser(
        "train",
        help="train an exported architecture fully and evaluate it (k-means on the test split)",
        description="Train the bundle's autoencoder on the training split, encode the test split, run "
        "k-means and report ACC, NMI, ARI, per-class precision / recall / F1 and the confusion "
        "matrix; save trained.safetensors, metrics.json and pictures into DIR.",
    )
    train.add_argument("dir", type=Path, metavar="DIR", help="a bundle written by nas export")
    train.add_argument("--dataset", required=True, help="dataset name (e.g. digits)")
    train.add_argument("--data-dir", type=Path, metavar="PATH", help="folder with the dataset's files")
    train.add_argument(
        "--epochs", type=int, required=True, metavar="N", help="reconstruction training epochs"
    )
    train.add_argument("--batch-size", type=int, default=256, metavar="N")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0, metavar="N")
    train.add_argument(
        "--from-scratch", action="store_true", help="start from fresh weights, not the exported ones"
    )
    train.add_argument("--finetune", choices=["idec", "edcwrn"], help="clustering fine-tuning after training")
    train.add_argument(
        "--finetune-iterations", type=int, default=20_000, metavar="N", help="at most N iterations"
    )
    train.add_argument("--classifier", choices=["probe", "finetune"], help="a softmax head on the labels")
    train.add_argument("--classifier-epochs", type=int, default=10, metavar="N")
    train.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    train.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    _common(train)

    show = sub.add_parser("show", help="per-generation summary and best individual of a run")
    show.add_argument("run", metavar="RUN", help="run name or id")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    _db(show)
    _common(show)
    return parser


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The options a user set: flags left out are None and leave the config file's values."""
    return {k: v for k, v in values.items() if v is not None}


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    flat = {
        "name": args.name, "population": args.population, "generations": args.generations,
        "seed": args.seed, "db": args.db, "cpus": args.cpus, "address": args.address,
        "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
        "trial_timeout": args.trial_timeout, "reevaluate": args.reevaluate, "strategy": args.strategy,
    }  # fmt: skip
    sections = {
        "dataset": {
            "name": args.dataset, "data_dir": args.data_dir, "subset": args.subset,
            "val_size": args.val_size, "clusters": args.clusters,
        },
        "budget": {"epochs": args.epochs, "lr": args.lr},
    }  # fmt: skip
    out: dict[str, Any] = _given(flat)
    out |= {name: given for name, values in sections.items() if (given := _given(values))}
    if args.no_pruning:
        out["pruning"] = {"enabled": False}
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from evonas.nas.config import build_config
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import run_search

    config = build_config(args.config, _run_overrides(args))
    run = run_search(config, progress=None if args.quiet else progress_for(), reuse=args.reuse)
    return _print_outcome(run, config.db)


def cmd_resume(args: argparse.Namespace) -> int:
    from evonas.nas.progress import progress_for
    from evonas.nas.runner import resume_search

    run = resume_search(
        args.run, args.db, generations=args.generations, progress=None if args.quiet else progress_for(),
        reuse=args.reuse, force=args.force, address=args.address, cpus=args.cpus,
    )  # fmt: skip
    return _print_outcome(run, args.db)


def _scores(m: dict[str, Any]) -> str:
    """ACC / NMI / ARI, or the silhouette when the data had no labels."""
    if m.get("acc") is None:
        return f"silhouette {m.get('silhouette', float('nan')):.4f} (no labels)"
    return f"ACC {m['acc']:.4f}  NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}"


def _nothing_scored(data: dict[str, Any]) -> str:
    """Why a finished run has no best individual, and what to change."""
    evaluated = [i for g in data["generations"] for i in g["evaluated"]]
    failed = [i for i in evaluated if i["status"] == "failed"]
    gated = sum(1 for i in failed if (i["error"] or "").startswith("gate"))
    lines = [f"warning: no candidate was scored: {len(failed)} of {len(evaluated)} evaluations failed"]
    if failed:
        lines.append(f"  e.g. {failed[0]['compact']}: {failed[0]['error']}")
    if gated:
        lines.append(
            f"  {gated} failed the reconstruction gate: give each candidate more training "
            "(--epochs, or more images with --subset)"
        )
    return "\n".join(lines)


def _print_outcome(run: RunInfo, db: str) -> int:
    from evonas.nas.summary import load_run_json
    from evonas.storage import SQLStorage

    with SQLStorage(db, create=False) as storage:
        data = load_run_json(storage, run.id)
    best = data["best"]
    print(f"run {run.name} {run.status}")
    if best:
        m = best["metrics"]
        print(f"best: {best['compact']}  {_scores(m)}  recon {m['recon_loss']:.5f}  params {m['params']:,}")
    elif run.status == "finished":
        print(_nothing_scored(data), file=sys.stderr)
    print(f"show it with: nas show {run.name} --db {db}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from evonas.nas.summary import best_individual
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        rows = []
        for run in storage.list_runs():
            gens = storage.load_generations(run.id)
            best = best_individual(gens)
            rows.append([
                str(run.id), run.name, run.status, str(run.config.get("dataset", {}).get("name", "?")),
                str(len(gens)), f"{best.score:.4f}" if best and best.score is not None else "-",
                run.created_at.strftime("%Y-%m-%d %H:%M"),
            ])  # fmt: skip
    if not rows:
        print(f"no runs in {args.db}")
        return 0
    print(_table(["id", "name", "status", "dataset", "generations", "best acc", "created (UTC)"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from evonas.nas.summary import load_run_json
    from evonas.storage import SQLStorage

    with SQLStorage(args.db, create=False) as storage:
        data = load_run_json(storage, args.run)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"run {data['name']} (id {data['run_id']}): {data['status']}, seed {data['seed']}")
    rows = []
    so_far: float | None = None
    for g in data["generations"]:
        ev = g["evaluated"]
        key = "acc" if any(i["metrics"]["acc"] is not None for i in ev) else "silhouette"
        accs = [
            i["metrics"][key] for i in ev
            if i["metrics"].get(key) is not None and i["pruned_at_epoch"] is None and i["status"] != "failed"
        ]  # fmt: skip
        if accs and (so_far is None or max(accs) > so_far):
            so_far = max(accs)
        rows.append([
            str(g["index"]), str(sum(i["status"] != "cached" for i in ev)),
            str(sum(i["status"] == "failed" for i in ev)), str(sum(i["status"] == "pruned" for i in ev)),
            str(sum(i["status"] == "cached" for i in ev)),
            f"{max(accs):.4f}" if accs else "-", f"{sum(accs) / len(accs):.4f}" if accs else "-",
            f"{so_far:.4f}" if so_far is not None else "-", f"{g['seconds']:.1f}",
        ])  # fmt: skip
    # "best"/"mean" describe the generation's own evaluations; "best so far" the run up to it
    header = ["gen", "evaluated", "failed", "pruned", "cached", "best", "mean", "best so far", "seconds"]
    print(_table(header, rows))
    best = data["best"]
    if best:
        m = best["metrics"]
        print(f"best: {best['compact']} (hash {best['hash']})")
        print(f"      {_scores(m)}  recon {m['recon_loss']:.5f}  params {m['params']:,}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from evonas.datasets.download import download

    path = download(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}: use --dataset {args.name} --data-dir {path}")
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

    if not args.out.parent.exists():
        raise NASError(f"Cannot write {args.out}: the folder {args.out.parent} does not exist.")
    with SQLStorage(args.db, create=False) as storage:
        out = write_report(storage, args.run, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evonas.genomes import Genome
    from evonas.nas.summary import best_individual
    from evonas.storage import SQLStorage

    rows = []
    with SQLStorage(args.db, create=False) as storage:
        for key in args.runs:
            run = storage.get_run(key)
            gens = storage.load_generations(run.id)
            inds = [i for g in gens for i in g.individuals]
            trained = [i for i in inds if i.status != "cached"]
            best = best_individual(gens)
            wall = ((run.finished_at or run.updated_at) - run.created_at).total_seconds()
            failed = sum(i.status == "failed" for i in inds)
            rows.append([
                run.name, run.status, str(run.config.get("dataset", {}).get("name", "?")), str(len(gens)),
                str(len(trained)), str(len(inds) - len(trained)), str(failed),
                *(f"{v:.4f}" if (v := getattr(best, k) if best else None) is not None else "-"
                  for k in ("acc", "nmi", "ari")),
                Genome.from_json(best.genome).compact() if best else "-",
                f"{sum(i.seconds for i in trained):.0f}", f"{wall:.0f}",
            ])  # fmt: skip
    header = ["run", "status", "dataset", "generations", "trained", "cached", "failed",
              "best acc", "nmi", "ari", "best genome", "eval s", "wall s"]  # fmt: skip
    print(_table(header, rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from evonas.export import export_run
    from evonas.nas.summary import run_input_shape
    from evonas.storage import SQLStorage
    from evonas.storage.weights import default_weights_dir

    with SQLStorage(args.db, create=False) as storage:
        run = storage.get_run(args.run)
        weights_dir = Path(run.config.get("weights_dir") or default_weights_dir(args.db))
        bundle = export_run(storage, weights_dir, args.run, args.out, run_input_shape(run),
                            rank=args.rank, genome_hash=args.hash)  # fmt: skip
    m = bundle.meta["metrics"]
    print(f"exported {bundle.genome.compact()} (rank {m['rank']}, {_scores(m)}) to {bundle.directory}")
    print(
        f"train it with: nas train {bundle.directory} --dataset {bundle.meta['dataset'].get('name')} "
        "--epochs 20"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from evonas.errors import ConfigError
    from evonas.nas.config import format_validation_error
    from evonas.training.train import TrainOptions, train_bundle

    try:
        opts = TrainOptions(
            dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, seed=args.seed, from_scratch=args.from_scratch, finetune=args.finetune,
            finetune_iterations=args.finetune_iterations, classifier=args.classifier,
            classifier_epochs=args.classifier_epochs, pictures=not args.no_pictures,
        )  # fmt: skip
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    say = (lambda _msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    metrics = train_bundle(args.dir, opts, say=say)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"ACC {metrics['acc']:.4f}  NMI {metrics['nmi']:.4f}  ARI {metrics['ari']:.4f}  "
              f"(test split, {metrics['test_size']} images); metrics in {args.dir / 'metrics.json'}"
              )  # fmt: skip
    return 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "status": cmd_status,
    "runs": cmd_runs,
    "show": cmd_show,
    "report": cmd_report,
    "compare": cmd_compare,
    "export": cmd_export,
    "train": cmd_train,
    "data": cmd_data,
}


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (docker stop, kill) like Ctrl-C: stop, mark the run interrupted, exit 130."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def default_log_file(db: str) -> Path:
    """Beside an SQLite database (``runs/evonas.db`` -> ``runs/evonas.log``), else ./evonas.log."""
    from evonas.storage import normalise_db_url

    url = normalise_db_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).with_suffix(".log")
    return Path("evonas.log")


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
        path = args.log_file or default_log_file(args.db or DEFAULT_DB_URL)
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
    try:
        return COMMANDS[args.command](args)
    except NASError as exc:
        if args.debug:
            raise
        print(f"nas: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
