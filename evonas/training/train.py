"""`nas train`: train an exported architecture fully, then cluster and score it under a protocol.

One sitting, in named steps: :func:`~evonas.training.inputs.load_inputs` (load and split),
:func:`build_model`, :func:`train_encoder`, :func:`~evonas.training.encode.score_encoder` (encode,
cluster, score, without gradients), :func:`finetune_step`, :func:`write_outputs`, and the optional
pictures and classifier. :func:`train_bundle` calls them in that order and returns a
:class:`TrainResult`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evonas.genomes import build_autoencoder
from evonas.genomes.recipe import Recipe
from evonas.learn import (
    Augmentation,
    head_arrays,
    prefers_channels_last,
    state_dict_bytes,
    train_reconstruction,
)
from evonas.metrics import OBJECTIVES, Metrics
from evonas.training.classifier import train_classifier
from evonas.training.cluster import HEAD_FILE, WEIGHTS_FILE, save_head, write_clusters
from evonas.training.encode import Scored, score_encoder
from evonas.training.evaluation import clustering_report
from evonas.training.finetune import finetune
from evonas.training.inputs import TrainingInputs, check_writable, load_inputs, load_weights
from evonas.training.options import TrainOptions
from evonas.training.pictures import loss_curve, reconstructions, tsne_map

log = logging.getLogger(__name__)

SCORES = OBJECTIVES  # the clustering scores metrics.json and the fine-tuning summary report


@dataclass
class TrainResult:
    """What `nas train` measured; :meth:`to_json` is ``metrics.json``."""

    metrics: Metrics  # the final scores (after fine-tuning, when there was one)
    head: str
    protocol: str
    clusters: int
    genome: str  # the compact form
    dataset: str
    epochs: int
    lr: float
    augmentation: str
    from_scratch: bool
    train_seconds: float
    head_seconds: float
    loss_history: list[float]
    train_size: int
    test_size: int
    report: dict[str, Any] = field(default_factory=dict)  # per-class figures, the confusion matrix
    finetune: dict[str, Any] | None = None
    classifier: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        values = self.metrics.to_json()
        out: dict[str, Any] = {key: values[key] for key in SCORES} | self.report
        out |= {
            "head_seconds": round(self.head_seconds, 1), "head": self.head, "protocol": self.protocol,
            "clusters": self.clusters, "genome": self.genome, "dataset": self.dataset,
            "epochs": self.epochs, "lr": self.lr, "augmentation": self.augmentation,
            "from_scratch": self.from_scratch, "train_seconds": round(self.train_seconds, 1),
            "loss_history": self.loss_history, "train_size": self.train_size, "test_size": self.test_size,
        }  # fmt: skip
        if self.finetune is not None:
            out["finetune"] = self.finetune
        if self.classifier is not None:
            out["classifier"] = self.classifier
        return out


def train_bundle(directory: Path, opts: TrainOptions, say: Callable[[str], None] = log.info) -> TrainResult:
    """Train the bundle's architecture and cluster with ``opts.head`` under ``opts.protocol``:

    - ``heldout``: the encoder trains on the search's training and validation images and never on
      the test split; the head is fitted on the codes of every image (it uses no labels) and the
      partition is scored on the test split.
    - ``transductive``: train, cluster and score on every image (the papers' usual protocol).

    Without labels (``opts.clusters`` then says how many groups) the partition is scored by the
    head's label-free silhouette. Everything is written into ``DIR/<protocol>/``: the trained
    weights, ``metrics.json``, ``clusters.csv`` (each image's cluster), ``codes.npy`` (each image's
    code, in dataset order) and the pictures, so the two protocols never overwrite each other."""
    inputs = load_inputs(directory, opts)
    out = directory / opts.protocol
    check_writable(directory)
    out.mkdir(exist_ok=True)
    recipe = inputs.bundle.genome.recipe
    lr = opts.lr or (recipe.lr if recipe else 1e-3)
    augment = (recipe or Recipe()).augmentation(opts.augment, opts.noise)
    model = build_model(inputs, opts)
    rows = inputs.rows
    x_all = torch.from_numpy(inputs.data.x)
    x_fit = torch.from_numpy(inputs.data.x[rows.fit])
    if prefers_channels_last(inputs.bundle.input_shape):
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x_fit = x_fit.contiguous(memory_format=torch.channels_last)
    say(f"training {inputs.bundle.genome.compact()} on {len(x_fit)} {inputs.dataset} images for "
        f"{opts.epochs} epochs (lr {lr:g}, augmentation {augment}); {opts.protocol} protocol, "
        f"{opts.head} head, scored on {len(rows.score)} images")  # fmt: skip
    losses, train_seconds = train_encoder(model, x_fit, opts, lr, augment, say)

    def score() -> Scored:
        return score_encoder(model, x_all, inputs.clusters, opts.head, opts.seed, opts.kmeans_n_init,
                             rows.score, inputs.labels(rows.score))  # fmt: skip

    scored = score()
    result = TrainResult(
        metrics=scored.metrics, head=opts.head, protocol=opts.protocol, clusters=inputs.clusters,
        genome=inputs.bundle.genome.compact(), dataset=inputs.dataset, epochs=opts.epochs, lr=lr,
        augmentation=str(augment), from_scratch=opts.from_scratch, train_seconds=train_seconds,
        head_seconds=scored.head_seconds, loss_history=losses, train_size=len(rows.fit),
        test_size=len(rows.score), report=scored.report,
    )  # fmt: skip
    say(f"{opts.head} on the codes: {scores_text(scored.metrics)}")
    if opts.finetune:
        result.finetune, scored = finetune_step(
            model, x_fit, x_all, inputs, opts, augment, scored, score, say
        )
        result.metrics = scored.metrics
    write_outputs(out, model, scored, result)
    if opts.pictures:
        draw_pictures(out, model, inputs, scored, losses, opts.seed)
    if opts.classifier and inputs.labelled:
        result.classifier = classifier_step(model, inputs, opts, lr, say)
    (out / "metrics.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result


def build_model(inputs: TrainingInputs, opts: TrainOptions) -> torch.nn.Module:
    """The bundle's autoencoder, seeded, with its exported weights unless ``opts.from_scratch``."""
    bundle = inputs.bundle
    torch.manual_seed(opts.seed)
    model = build_autoencoder(bundle.genome, bundle.input_shape)
    if not opts.from_scratch:
        hint = "export the bundle again with nas export, or pass --from-scratch to train fresh weights."
        load_weights(bundle.weights, model, bundle.genome.compact(), hint)
    return model


def train_encoder(
    model: torch.nn.Module,
    x_fit: torch.Tensor,
    opts: TrainOptions,
    lr: float,
    augment: Augmentation,
    say: Callable[[str], None],
) -> tuple[list[float], float]:
    """Train by reconstruction for ``opts.epochs``: the loss per epoch and the seconds it took."""
    start = time.perf_counter()
    if opts.epochs <= 0:
        return [], 0.0
    losses = train_reconstruction(
        model, x_fit, epochs=opts.epochs, batch_size=opts.batch_size, lr=lr,
        rng=np.random.default_rng(opts.seed), augment=augment,
        on_epoch=lambda e, loss: say(f"epoch {e}/{opts.epochs}: training MSE {loss:.5f} "
                                     f"({time.perf_counter() - start:.0f} s)"),
    )  # fmt: skip
    return losses, time.perf_counter() - start


def finetune_step(
    model: torch.nn.Module,
    x_fit: torch.Tensor,
    x_all: torch.Tensor,
    inputs: TrainingInputs,
    opts: TrainOptions,
    augment: Augmentation,
    before: Scored,
    score: Callable[[], Scored],
    say: Callable[[str], None],
) -> tuple[dict[str, Any], Scored]:
    """Fine-tune for clustering, then score with the same head and protocol as before; the
    method's own assignment (argmax Q) is scored too, on the same rows. The centres start from
    the head's partition of the fine-tuned rows (with ``centres="head"``)."""
    assert opts.finetune is not None
    cfg = opts.finetune_config(augment)
    rows = inputs.rows
    t0 = time.perf_counter()
    outcome = finetune(
        model, x_fit, inputs.clusters, cfg, seed=opts.seed, x_eval=x_all,
        start_labels=before.partition.labels[rows.fit],
        on_update=lambda h: say(f"{opts.finetune} iteration {int(h['iteration'])}: labels changed "
                                f"{h['label_change']:.4f}, {int(h['reliable'])} samples train"),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    after = score()
    y_scored = inputs.labels(rows.score)
    own = (
        {key: value for key, value in clustering_report(y_scored, outcome.labels[rows.score]).items()
         if key in SCORES}
        if y_scored is not None else None
    )  # fmt: skip
    objective = "acc" if after.metrics.acc is not None else "silhouette"
    was, now = getattr(before.metrics, objective), getattr(after.metrics, objective)
    worse = now < was
    summary = {
        "method": opts.finetune,
        "iterations": outcome.iterations,
        "seconds": round(seconds, 1),
        "stopped_because": outcome.stopped_because,
        "before": {key: getattr(before.metrics, key) for key in SCORES},
        "after": {key: getattr(after.metrics, key) for key in SCORES},
        "own_assignment": own,
        "worse": worse,
        "settings": {**cfg.model_dump(exclude={"augment"}), "augment": str(cfg.augment)},
    }
    say(f"after {opts.finetune} ({outcome.iterations} iterations, {outcome.stopped_because}, "
        f"{seconds:.0f} s): {scores_text(after.metrics)}")  # fmt: skip
    if worse:
        say(f"warning: {opts.finetune} left the clustering worse than before it: {objective} "
            f"{was:.4f} -> {now:.4f}")  # fmt: skip
    return summary, after


def write_outputs(out: Path, model: torch.nn.Module, scored: Scored, result: TrainResult) -> None:
    """The trained weights, the fitted head, every image's code and cluster."""
    (out / WEIGHTS_FILE).write_bytes(state_dict_bytes(model))
    save_head(out / HEAD_FILE, head_arrays(scored.partition, scored.codes), result.head, result.clusters)
    np.save(out / "codes.npy", scored.codes.astype(np.float32))
    write_clusters(out / "clusters.csv", scored.partition.labels)


@torch.no_grad()
def draw_pictures(
    out: Path, model: torch.nn.Module, inputs: TrainingInputs, scored: Scored, losses: list[float], seed: int
) -> None:
    """Reconstructions of ten scored images, the loss curve, and a t-SNE map of the scored codes."""
    model.eval()
    rows = inputs.rows.score
    test_x = inputs.data.x[rows[:10]]
    reconstructions(test_x, model(torch.from_numpy(test_x)).numpy(), out / "reconstructions.png")
    if losses:
        loss_curve(losses, out / "loss.png")
    labels = inputs.labels(rows)
    if labels is not None:
        tsne_map(scored.codes[rows], scored.partition.labels[rows], labels, out / "tsne.png", seed=seed)


def classifier_step(
    model: torch.nn.Module, inputs: TrainingInputs, opts: TrainOptions, lr: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """A supervised probe on the encoder (``opts.classifier``): trained on the search's training
    rows, its accuracy measured on the test rows."""
    assert opts.classifier is not None
    rows, x = inputs.rows, inputs.data.x
    y_train, y_test = inputs.labels(rows.train), inputs.labels(rows.test)
    assert y_train is not None and y_test is not None
    report = train_classifier(
        model, inputs.bundle.genome.latent_dim, torch.from_numpy(x[rows.train]), y_train,
        torch.from_numpy(x[rows.test]), y_test, opts.classifier,
        epochs=opts.classifier_epochs, batch_size=opts.batch_size, lr=lr, seed=opts.seed,
        on_epoch=lambda e, loss: say(f"classifier epoch {e}/{opts.classifier_epochs}: loss {loss:.4f}"),
    )  # fmt: skip
    say(f"{opts.classifier} classifier: test accuracy {report['accuracy']:.4f}")
    return report


def scores_text(m: Metrics) -> str:
    """The scores as one line: ACC, NMI and ARI, or the silhouette without labels."""
    if m.acc is None:
        return f"silhouette {m.silhouette:.4f} (no labels: ACC, NMI and ARI need them)"
    return f"ACC {m.acc:.4f}  NMI {m.nmi:.4f}  ARI {m.ari:.4f}"
