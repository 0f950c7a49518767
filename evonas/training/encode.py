"""Codes and clusters of a trained autoencoder: encoding without gradients, then the head."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from evonas.learn import Partition, cluster_codes, label_free_score
from evonas.metrics import Metrics
from evonas.training.evaluation import clustering_report
from evonas.values import Head

ENCODE_BATCH = 1024


@torch.no_grad()
def encode(model: torch.nn.Module, x: torch.Tensor, batch: int = ENCODE_BATCH) -> np.ndarray:
    """The codes of ``x`` (N, C, H, W), in eval mode, ``batch`` images at a time."""
    model.eval()
    return torch.cat([model.encode(x[i : i + batch]) for i in range(0, x.shape[0], batch)]).numpy()  # type: ignore[operator]


@dataclass(frozen=True)
class Scored:
    """A partition of every code and its scores on the rows a protocol scores."""

    metrics: Metrics  # acc / nmi / ari with labels, else the label-free silhouette
    report: dict[str, Any]  # with labels: per-class precision / recall / F1, the confusion matrix
    codes: np.ndarray
    partition: Partition
    head_seconds: float


@torch.no_grad()
def score_encoder(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    head: Head,
    seed: int,
    kmeans_n_init: int,
    rows: np.ndarray,
    labels: np.ndarray | None,
) -> Scored:
    """Encode every image, partition the codes with ``head`` into ``k`` clusters, and score the
    partition on ``rows`` (against ``labels``, the labels of those rows, or by the silhouette)."""
    t0 = time.perf_counter()
    z = encode(model, x)
    partition = cluster_codes(z, k, head, seed, kmeans_n_init)
    if labels is not None:
        full = clustering_report(labels, partition.labels[rows])
        metrics = Metrics.from_mapping(full)
        report = {key: value for key, value in full.items() if key not in Metrics.fields()}
    else:
        metrics, report = Metrics(silhouette=label_free_score(partition, seed)), {}
    return Scored(metrics, report, z, partition, time.perf_counter() - t0)
