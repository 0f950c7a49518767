"""``nas train`` (train an exported architecture fully, cluster and score it) and ``nas cluster``
(assign new images with a trained bundle)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evonas.cli.options import (
    ModelFlag,
    default_text,
    given_values,
    json_flag,
    literal_choices,
    model_flag,
    parent,
)
from evonas.errors import ConfigError
from evonas.genomes.recipe import AFFINE, AUGMENTS
from evonas.training.options import FLAGS, FinetuneConfig, Method, TrainOptions
from evonas.values import Augmentation

_TRAIN_FLAGS: list[ModelFlag] = []
METHODS: tuple[Method, ...] = ("edcwrn", "idec")
# the metavar of each fine-tuning flag with a value, as the papers name the constant
METAVARS = {
    "max_iterations": "N", "update_interval": "T", "tol": "SHARE", "cluster_weight": "W", "lr": "LR",
    "kmeans_n_init": "N", "kernel_a": "A", "kernel_b": "B", "neighbours": "K", "feature_beta": "BETA",
    "feature_lambda": "L", "reliable_start": "B1", "reliable_step": "S",
}  # fmt: skip


def method_defaults(field: str) -> dict[str, str]:
    """What each fine-tuning method uses for ``field`` when the user gives nothing, as text."""
    out: dict[str, str] = {}
    for method in METHODS:
        value = getattr(FinetuneConfig.for_method(method, Augmentation()), field)
        if field == "augment":  # IDEC takes the bundle's recipe; EDCWRN its authors' medium
            names = [n for n, a in AFFINE.items() if Augmentation(*a) == value]
            out[method] = names[0] if method == "edcwrn" and names else "the bundle's recipe"
        else:
            out[method] = default_text(value)
    return out


def finetune_help(field: str) -> str:
    text = FinetuneConfig.model_fields[field].description or ""
    d = method_defaults(field)
    if d["edcwrn"] == d["idec"]:
        return f"{text} (default: {d['edcwrn']})"
    return f"{text} (default: {d['edcwrn']} for edcwrn, as its authors; {d['idec']} for idec)"


def _add_finetune_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fine-tuning (with --finetune; defaults are the methods' own)")
    for field, flag in FLAGS.items():
        info = FinetuneConfig.model_fields[field]
        choices = AUGMENTS if field == "augment" else literal_choices(info.annotation)
        kind: type = str if choices else int if info.annotation is int else float
        group.add_argument(
            flag, dest=_dest(flag), type=kind, choices=choices, default=None,
            metavar=None if choices else METAVARS[field], help=finetune_help(field),
        )  # fmt: skip


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    train = sub.add_parser(
        "train", parents=[common, parent(json_flag)],
        help="train an exported architecture fully, cluster its codes and score the clusters",
        description="Train the bundle's autoencoder (with its recipe), cluster the codes with --head and "
        "report ACC, NMI, ARI, per-class precision / recall / F1 and the confusion matrix (or, without "
        "labels, the silhouette); save trained.safetensors, metrics.json, clusters.csv, codes.npy and "
        "pictures into DIR/PROTOCOL/.",
    )  # fmt: skip
    train.add_argument("dir", type=Path, metavar="DIR", help="a bundle written by nas export")
    flags = _TRAIN_FLAGS
    flags.clear()
    for flag, field, metavar in (
        ("--dataset", "dataset", None), ("--data-dir", "data_dir", "PATH"), ("--epochs", "epochs", "N"),
        ("--batch-size", "batch_size", "N"), ("--lr", "lr", "LR"), ("--augment", "augment", None),
        ("--noise", "noise", "STD"), ("--head", "head", None), ("--protocol", "protocol", None),
        ("--clusters", "clusters", "K"), ("--seed", "seed", "N"), ("--finetune", "finetune", None),
    ):  # fmt: skip
        flags.append(model_flag(train, flag, TrainOptions, field, metavar=metavar))
    flags.append(model_flag(train, "--from-scratch", TrainOptions, "from_scratch", action="store_true"))
    _add_finetune_flags(train)
    flags.append(model_flag(train, "--classifier", TrainOptions, "classifier"))
    flags.append(model_flag(train, "--classifier-epochs", TrainOptions, "classifier_epochs", metavar="N"))
    train.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    train.set_defaults(func=cmd_train)

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
        "--protocol", choices=literal_choices(TrainOptions.model_fields["protocol"].annotation),
        default=TrainOptions.model_fields["protocol"].default,
        help="which nas train result to use (default: %(default)s)",
    )  # fmt: skip
    cluster.set_defaults(func=cmd_cluster)


def train_options(args: argparse.Namespace) -> TrainOptions:
    """TrainOptions from the flags given; what was left out stays the model's default."""
    values = given_values(args, _TRAIN_FLAGS)
    finetune = {field: v for field, flag in FLAGS.items() if (v := getattr(args, _dest(flag))) is not None}
    if finetune:
        values["finetune_options"] = finetune
    if args.no_pictures:
        values["pictures"] = False
    from evonas.nas.config import format_validation_error

    try:
        return TrainOptions(**values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def cmd_train(args: argparse.Namespace) -> int:
    opts = train_options(args)  # a bad option fails here, before torch is imported
    from evonas.training import scores_text, train_bundle

    say = (lambda _msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    result = train_bundle(args.dir, opts, say=say)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        where = "test split" if opts.protocol == "heldout" else "every image"
        print(f"{scores_text(result.metrics)}  ({opts.head}, {where}, {result.test_size} images); "
              f"results in {args.dir / opts.protocol}/")  # fmt: skip
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from evonas.training import cluster_images

    result = cluster_images(args.bundle, args.dataset, args.data_dir, args.out, args.protocol)
    print(f"{result['images']} images in {len(result['sizes'])} clusters ({result['head']} head), "
          f"sizes {result['sizes']}; clusters.csv and codes.npy in {result['out']}")  # fmt: skip
    return 0
