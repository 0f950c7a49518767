"""`nas train`: train an exported architecture fully, then score it the K-CAE way on the test split."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from evonas.datasets import load_dataset, search_splits
from evonas.errors import DatasetError, NASError
from evonas.export import read_bundle
from evonas.genomes import build_autoencoder
from evonas.learn import fit_kmeans, prefers_channels_last, state_dict_bytes, train_reconstruction
from evonas.training.classifier import train_classifier
from evonas.training.evaluation import clustering_report
from evonas.training.finetune import FinetuneConfig, finetune
from evonas.training.pictures import loss_curve, reconstructions, tsne_map

log = logging.getLogger(__name__)


class TrainOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    data_dir: Path | None = None
    epochs: int = Field(10, ge=0)
    batch_size: int = Field(256, ge=2)
    lr: float = Field(1e-3, gt=0)
    seed: int = Field(0, ge=0)
    from_scratch: bool = False
    finetune: Literal["idec", "edcwrn"] | None = None
    finetune_iterations: int = Field(20_000, ge=1)
    classifier: Literal["probe", "finetune"] | None = None
    classifier_epochs: int = Field(10, ge=1)
    kmeans_n_init: int = Field(10, ge=1)
    pictures: bool = True


def _encode(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model.encode(x[i : i + 1024]) for i in range(0, x.shape[0], 1024)]).numpy()  # type: ignore[operator]


def _kmeans(z: np.ndarray, k: int, n_init: int, seed: int) -> np.ndarray:
    return fit_kmeans(z, k, n_init, seed).labels_


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


def train_bundle(
    directory: Path, opts: TrainOptions, say: Callable[[str], None] = log.info
) -> dict[str, Any]:
    """Train the bundle's architecture on the dataset's training split, score it on the test split,
    and save the trained weights, the metrics and pictures into the bundle folder."""
    bundle = read_bundle(directory)
    searched = bundle.meta.get("dataset", {})
    layout = searched.get("layout", "auto") if searched.get("name") == opts.dataset else "auto"
    data = load_dataset(opts.dataset, opts.data_dir, layout)  # as the search read it
    if data.input_shape != bundle.input_shape:
        raise DatasetError(
            f"Dataset {opts.dataset!r} has images of shape {data.input_shape}, but the bundle's model "
            f"takes {bundle.input_shape}."
        )
    if data.y is None:
        raise DatasetError(f"Dataset {opts.dataset!r} has no labels; nas train scores against them.")
    ds = bundle.meta.get("dataset", {}) if bundle.meta.get("dataset", {}).get("name") == opts.dataset else {}
    splits = search_splits(
        data, val_size=int(ds.get("val_size", 0)), test_fraction=float(ds.get("test_fraction", 0.2))
    )
    # the search's training and validation images both train; the test split is never trained on
    x_np = np.concatenate([splits.train.x, splits.val.x])
    y_train = np.concatenate([splits.train.y, splits.val.y])  # type: ignore[list-item]
    x_train, x_test = torch.from_numpy(x_np), torch.from_numpy(np.array(splits.test.x))
    y_test = np.asarray(splits.test.y)
    k = int(np.unique(data.y).size)
    if k < 2:
        raise DatasetError(
            f"Dataset {opts.dataset!r} has labels of a single class: there is nothing to cluster."
        )
    if len(y_test) < k:
        raise DatasetError(
            f"Dataset {opts.dataset!r} has {len(y_test)} test images, fewer than its {k} classes: "
            "k-means cannot find that many clusters in them (give it more images)."
        )
    _check_writable(directory)

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
    if prefers_channels_last(bundle.input_shape):
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x_train = x_train.contiguous(memory_format=torch.channels_last)
    say(f"training {bundle.genome.compact()} on {len(x_train)} {opts.dataset} images "
        f"for {opts.epochs} epochs; testing on {len(x_test)}")  # fmt: skip
    start = time.perf_counter()
    losses = (
        train_reconstruction(
            model, x_train, epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr,
            rng=np.random.default_rng(opts.seed),
            on_epoch=lambda e, loss: say(f"epoch {e}/{opts.epochs}: training MSE {loss:.5f} "
                                         f"({time.perf_counter() - start:.0f} s)"),
        )
        if opts.epochs > 0 else []
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    z = _encode(model, x_test)
    clusters = _kmeans(z, k, opts.kmeans_n_init, opts.seed)
    metrics: dict[str, Any] = {
        **clustering_report(y_test, clusters),
        "genome": bundle.genome.compact(),
        "dataset": opts.dataset,
        "epochs": opts.epochs,
        "from_scratch": opts.from_scratch,
        "train_seconds": round(train_seconds, 1),
        "loss_history": losses,
        "test_size": len(y_test),
    }
    scores = f"ACC {metrics['acc']:.4f}  NMI {metrics['nmi']:.4f}  ARI {metrics['ari']:.4f}"
    say(f"k-means on the test codes: {scores}")
    if opts.finetune:
        cfg = FinetuneConfig(
            method=opts.finetune, max_iterations=opts.finetune_iterations, batch_size=opts.batch_size
        )
        t0 = time.perf_counter()
        result = finetune(model, x_train, k, cfg, seed=opts.seed,
                          on_update=lambda h: say(f"{opts.finetune} iteration {int(h['iteration'])}: "
                                                  f"labels changed {h['label_change']:.4f}"))  # fmt: skip
        z = _encode(model, x_test)
        clusters = _kmeans(z, k, opts.kmeans_n_init, opts.seed)  # the same protocol as before
        after = clustering_report(y_test, clusters)
        metrics["finetune"] = {
            "method": opts.finetune,
            "iterations": result.iterations,
            "seconds": round(time.perf_counter() - t0, 1),
            "before": {key: metrics[key] for key in ("acc", "nmi", "ari")},
            "after": {key: after[key] for key in ("acc", "nmi", "ari")},
        }
        metrics.update(
            {key: after[key] for key in ("acc", "nmi", "ari", "per_class", "confusion", "accuracy")}
        )
        say(f"after {opts.finetune}: ACC {after['acc']:.4f}  NMI {after['nmi']:.4f}  ARI {after['ari']:.4f}")
    (directory / "trained.safetensors").write_bytes(state_dict_bytes(model))
    if opts.pictures:
        model.eval()
        with torch.no_grad():
            x_hat = model(x_test[:10]).numpy()
        reconstructions(splits.test.x[:10], x_hat, directory / "reconstructions.png")
        if losses:
            loss_curve(losses, directory / "loss.png")
        tsne_map(z, clusters, y_test, directory / "tsne.png", seed=opts.seed)
    if opts.classifier:
        metrics["classifier"] = train_classifier(
            model, bundle.genome.latent_dim, x_train, y_train, x_test, y_test, opts.classifier,
            epochs=opts.classifier_epochs, batch_size=opts.batch_size, lr=opts.lr, seed=opts.seed,
            on_epoch=lambda e, loss: say(f"classifier epoch {e}/{opts.classifier_epochs}: loss {loss:.4f}"),
        )  # fmt: skip
        say(f"{opts.classifier} classifier: test accuracy {metrics['classifier']['accuracy']:.4f}")
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
