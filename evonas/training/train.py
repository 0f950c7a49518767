"""`nas train`: train an exported architecture fully, then score it the K-CAE way on the test split."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evonas.datasets import load_dataset, search_splits
from evonas.datasets.loaders import ImageData, Layout
from evonas.errors import DatasetError, NASError
from evonas.export import read_bundle
from evonas.genomes import build_autoencoder
from evonas.genomes.recipe import Recipe
from evonas.learn import (
    Augmentation,
    Partition,
    assign,
    cluster_codes,
    head_arrays,
    label_free_score,
    prefers_channels_last,
    state_dict_bytes,
    train_reconstruction,
)
from evonas.training.classifier import train_classifier
from evonas.training.evaluation import clustering_report
from evonas.training.finetune import finetune
from evonas.training.options import Protocol, TrainOptions
from evonas.training.pictures import loss_curve, reconstructions, tsne_map

log = logging.getLogger(__name__)


def _encode(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model.encode(x[i : i + 1024]) for i in range(0, x.shape[0], 1024)]).numpy()  # type: ignore[operator]


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The bundle's weights; a clear error when they are missing or unreadable."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise NASError(
            f"The bundle has no weights file {path}: export it again with nas export, or pass "
            "--from-scratch to train fresh weights."
        )
    try:
        return load_file(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NASError(
            f"Cannot read the weights {path} ({first}): export the bundle again, or pass --from-scratch."
        ) from None


def _check_writable(directory: Path) -> None:
    """nas train writes its results into the bundle folder: fail before training, not after."""
    probe = directory / ".evonas-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise NASError(
            f"Cannot write into the bundle folder {directory} ({exc.strerror}): nas train saves its "
            "weights, metrics and pictures there; copy the bundle somewhere writable."
        ) from None


def protocol_rows(
    data: ImageData, split: Mapping[str, Any], protocol: Protocol
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows `nas train` uses, as (train, test, fit, score): the search's split of ``data``
    (``split``: its ``val_size`` and ``test_fraction``; empty for another dataset) into training
    and test rows, and the rows the encoder trains on and the partition is scored on under
    ``protocol`` (heldout: train and test; transductive: every row, both)."""
    splits = search_splits(
        data, val_size=int(split.get("val_size", 0)), test_fraction=float(split.get("test_fraction", 0.2))
    )
    assert splits.index is not None
    train_rows, test_rows = np.concatenate(splits.index[:2]), splits.index[2]
    if protocol == "heldout":
        return train_rows, test_rows, train_rows, test_rows
    every = np.arange(len(data.x))
    return train_rows, test_rows, every, every


def train_bundle(
    directory: Path, opts: TrainOptions, say: Callable[[str], None] = log.info
) -> dict[str, Any]:
    """Train the bundle's architecture and cluster with ``opts.head`` under ``opts.protocol``:

    - ``heldout``: the encoder trains on the search's training and validation images and never on
      the test split; the head is fitted on the codes of every image (it uses no labels) and the
      partition is scored on the test split.
    - ``transductive``: train, cluster and score on every image (the papers' usual protocol).

    Without labels (``opts.clusters`` then says how many groups) the partition is scored by the
    head's label-free silhouette. Everything is written into ``DIR/<protocol>/``: the trained
    weights, ``metrics.json``, ``clusters.csv`` (each image's cluster), ``codes.npy`` (each image's
    code, in dataset order) and the pictures, so the two protocols never overwrite each other."""
    bundle = read_bundle(directory)
    searched = bundle.meta.get("dataset", {})
    name = opts.dataset or searched.get("name")
    if not name:
        raise DatasetError(f"The bundle {directory} does not record its dataset: pass --dataset.")
    same = searched.get("name") == name
    layout: Layout = searched.get("layout", "auto") if same else "auto"
    data_dir = opts.data_dir or (Path(searched["data_dir"]) if same and searched.get("data_dir") else None)
    data = load_dataset(name, data_dir, layout)  # as the search read it
    if data.input_shape != bundle.input_shape:
        raise DatasetError(
            f"Dataset {name!r} has images of shape {data.input_shape}, but the bundle's model "
            f"takes {bundle.input_shape}."
        )
    labelled = data.y is not None
    k = opts.clusters or data.n_classes
    if k is None:
        raise DatasetError(
            f"Dataset {name!r} has no labels: pass --clusters K, the number of groups to find "
            "(ACC, NMI and ARI need labels; the label-free silhouette is reported instead)."
        )
    if k < 2:
        raise DatasetError(f"Dataset {name!r} has labels of a single class: there is nothing to cluster.")
    train_rows, test_rows, fit_rows, score_rows = protocol_rows(data, searched if same else {}, opts.protocol)
    if len(score_rows) < k:
        raise DatasetError(
            f"Dataset {name!r} has {len(score_rows)} test images, fewer than its {k} classes: "
            "k-means cannot find that many clusters in them (give it more images)."
        )
    out = directory / opts.protocol
    _check_writable(directory)
    out.mkdir(exist_ok=True)

    recipe = bundle.genome.recipe
    lr = opts.lr or (recipe.lr if recipe else 1e-3)
    augment = (recipe or Recipe()).augmentation(opts.augment, opts.noise)
    torch.manual_seed(opts.seed)
    model = build_autoencoder(bundle.genome, bundle.input_shape)
    if not opts.from_scratch:
        try:
            model.load_state_dict(_load_weights(bundle.weights))
        except RuntimeError as exc:
            raise NASError(
                f"The weights {bundle.weights} do not fit {bundle.genome.compact()} "
                f"({str(exc).strip().splitlines()[0]}): export the bundle again, or pass --from-scratch."
            ) from None
    x_all = torch.from_numpy(data.x)
    x_fit = torch.from_numpy(data.x[fit_rows])
    if prefers_channels_last(bundle.input_shape):
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x_fit = x_fit.contiguous(memory_format=torch.channels_last)
    say(f"training {bundle.genome.compact()} on {len(x_fit)} {name} images for {opts.epochs} "
        f"epochs (lr {lr:g}, augmentation {augment}); {opts.protocol} protocol, {opts.head} head, "
        f"scored on {len(score_rows)} images")  # fmt: skip
    start = time.perf_counter()
    losses = (
        train_reconstruction(
            model, x_fit, epochs=opts.epochs, batch_size=opts.batch_size, lr=lr,
            rng=np.random.default_rng(opts.seed), augment=augment,
            on_epoch=lambda e, loss: say(f"epoch {e}/{opts.epochs}: training MSE {loss:.5f} "
                                         f"({time.perf_counter() - start:.0f} s)"),
        )
        if opts.epochs > 0 else []
    )  # fmt: skip
    train_seconds = time.perf_counter() - start

    def score() -> tuple[dict[str, Any], np.ndarray, Partition]:
        """Cluster every code with the head; the scores on the rows the protocol scores."""
        t0 = time.perf_counter()
        z = _encode(model, x_all)
        partition = cluster_codes(z, k, opts.head, opts.seed, opts.kmeans_n_init)
        found = partition.labels
        if labelled:
            result = clustering_report(np.asarray(data.y)[score_rows], found[score_rows])
        else:
            result = {
                "acc": None,
                "nmi": None,
                "ari": None,
                "silhouette": label_free_score(partition, opts.seed),
            }
        result["head_seconds"] = round(time.perf_counter() - t0, 1)
        return result, z, partition

    scores, z, partition = score()
    metrics: dict[str, Any] = {
        **scores,
        "head": opts.head,
        "protocol": opts.protocol,
        "clusters": k,
        "genome": bundle.genome.compact(),
        "dataset": name,
        "epochs": opts.epochs,
        "lr": lr,
        "augmentation": str(augment),
        "from_scratch": opts.from_scratch,
        "train_seconds": round(train_seconds, 1),
        "loss_history": losses,
        "train_size": len(fit_rows),
        "test_size": len(score_rows),
    }
    say(f"{opts.head} on the codes: {_scores_text(metrics)}")
    if opts.finetune:
        y_scored = np.asarray(data.y)[score_rows] if labelled else None
        metrics["finetune"], (z, partition) = _finetune(
            model, x_fit, x_all, k, opts, augment, metrics, score, (score_rows, y_scored), say,
            start_labels=partition.labels[fit_rows],
        )  # fmt: skip
        metrics.update(metrics["finetune"]["after"])
    found = partition.labels
    (out / "trained.safetensors").write_bytes(state_dict_bytes(model))
    save_head(out / HEAD_FILE, head_arrays(partition, z), opts.head, k)
    np.save(out / "codes.npy", z.astype(np.float32))
    (out / "clusters.csv").write_text("index,cluster\n" + "".join(f"{i},{c}\n" for i, c in enumerate(found)))
    if opts.pictures:
        model.eval()
        test_x = data.x[score_rows[:10]]
        with torch.no_grad():
            x_hat = model(torch.from_numpy(test_x)).numpy()
        reconstructions(test_x, x_hat, out / "reconstructions.png")
        if losses:
            loss_curve(losses, out / "loss.png")
        if labelled:
            tsne_map(z[score_rows], found[score_rows], np.asarray(data.y)[score_rows], out / "tsne.png",
                     seed=opts.seed)  # fmt: skip
    if opts.classifier and labelled:
        y = np.asarray(data.y)
        metrics["classifier"] = train_classifier(
            model, bundle.genome.latent_dim, torch.from_numpy(data.x[train_rows]), y[train_rows],
            torch.from_numpy(data.x[test_rows]), y[test_rows], opts.classifier,
            epochs=opts.classifier_epochs, batch_size=opts.batch_size, lr=lr, seed=opts.seed,
            on_epoch=lambda e, loss: say(f"classifier epoch {e}/{opts.classifier_epochs}: loss {loss:.4f}"),
        )  # fmt: skip
        say(f"{opts.classifier} classifier: test accuracy {metrics['classifier']['accuracy']:.4f}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


HEAD_FILE = "head.safetensors"


def save_head(path: Path, arrays: dict[str, np.ndarray], head: str, k: int) -> None:
    """The fitted head as plain arrays in a safetensors file: loading it can never run code."""
    from safetensors.numpy import save_file

    save_file({n: np.ascontiguousarray(a) for n, a in arrays.items()}, str(path),
              metadata={"head": head, "clusters": str(k)})  # fmt: skip


def load_head(path: Path) -> tuple[dict[str, np.ndarray], str]:
    from safetensors import safe_open

    if not path.is_file():
        raise NASError(f"No fitted head at {path}: run nas train on the bundle first.")
    with safe_open(str(path), framework="np") as fh:
        meta = fh.metadata() or {}
        arrays = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 - not a dict
    return arrays, meta.get("head", "?")


def cluster_images(
    directory: Path, dataset: str, data_dir: Path | None, out: Path, protocol: Protocol = "heldout"
) -> dict[str, Any]:
    """Assign the images of ``dataset`` to the clusters a ``nas train`` run of the bundle found
    (its trained weights and fitted head in ``DIR/<protocol>/``); writes ``clusters.csv`` and
    ``codes.npy`` into ``out``."""
    bundle = read_bundle(directory)
    trained = directory / protocol
    arrays, head = load_head(trained / HEAD_FILE)
    data = load_dataset(dataset, data_dir)
    if data.input_shape != bundle.input_shape:
        raise DatasetError(
            f"Dataset {dataset!r} has images of shape {data.input_shape}, but the bundle's model "
            f"takes {bundle.input_shape}."
        )
    if out.exists() and not out.is_dir():
        raise NASError(f"--out {out} is a file: name a folder for clusters.csv and codes.npy.")
    model = build_autoencoder(bundle.genome, bundle.input_shape)
    try:
        model.load_state_dict(_load_weights(trained / "trained.safetensors"))
    except RuntimeError as exc:
        raise NASError(f"The weights in {trained} do not fit {bundle.genome.compact()}: {exc}") from None
    z = _encode(model, torch.from_numpy(data.x))
    labels = assign(arrays, z)
    try:
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "codes.npy", z.astype(np.float32))
        (out / "clusters.csv").write_text(
            "index,cluster\n" + "".join(f"{i},{c}\n" for i, c in enumerate(labels))
        )
    except OSError as exc:
        raise NASError(f"Cannot write into {out}: {exc.strerror or exc}.") from None
    return {"images": len(labels), "head": head, "sizes": np.bincount(labels).tolist(), "out": str(out)}


def _finetune(
    model: torch.nn.Module,
    x_fit: torch.Tensor,
    x_all: torch.Tensor,
    k: int,
    opts: TrainOptions,
    augment: Augmentation,
    before: dict[str, Any],
    score: Callable[[], tuple[dict[str, Any], np.ndarray, Partition]],
    scored: tuple[np.ndarray, np.ndarray | None],
    say: Callable[[str], None],
    start_labels: np.ndarray,
) -> tuple[dict[str, Any], tuple[np.ndarray, Partition]]:
    """Fine-tune for clustering, then score with the same head and protocol as before; the
    method's own assignment (argmax Q) is scored too, on the same rows. ``start_labels``: the head's
    partition of the fine-tuned rows before fine-tuning (the centres' start with ``centres="head"``)."""
    assert opts.finetune is not None
    cfg = opts.finetune_config(augment)
    t0 = time.perf_counter()
    result = finetune(
        model, x_fit, k, cfg, seed=opts.seed, x_eval=x_all, start_labels=start_labels,
        on_update=lambda h: say(f"{opts.finetune} iteration {int(h['iteration'])}: labels changed "
                                f"{h['label_change']:.4f}, {int(h['reliable'])} samples train"),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    after, z, partition = score()
    keys = ("acc", "nmi", "ari", "silhouette")
    rows, y_scored = scored
    own = (
        {key: value for key, value in clustering_report(y_scored, result.labels[rows]).items() if key in keys}
        if y_scored is not None else None
    )  # fmt: skip
    objective = "acc" if after.get("acc") is not None else "silhouette"
    worse = after[objective] < before[objective]
    summary = {
        "method": opts.finetune,
        "iterations": result.iterations,
        "seconds": round(seconds, 1),
        "stopped_because": result.stopped_because,
        "before": {key: before.get(key) for key in keys},
        "after": {key: after.get(key) for key in keys},
        "own_assignment": own,
        "worse": worse,
        "settings": {**cfg.model_dump(exclude={"augment"}), "augment": str(cfg.augment)},
    }
    say(f"after {opts.finetune} ({result.iterations} iterations, {result.stopped_because}, "
        f"{seconds:.0f} s): {_scores_text(after)}")  # fmt: skip
    if worse:
        say(f"warning: {opts.finetune} left the clustering worse than before it: {objective} "
            f"{before[objective]:.4f} -> {after[objective]:.4f}")  # fmt: skip
    return summary, (z, partition)


def _scores_text(m: dict[str, Any]) -> str:
    if m.get("acc") is None:
        return f"silhouette {m['silhouette']:.4f} (no labels: ACC, NMI and ARI need them)"
    return f"ACC {m['acc']:.4f}  NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}"
