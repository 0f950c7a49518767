"""Value types of an evaluation, shared by the loop, the workers, storage and the read-side views.

Imports neither torch nor Ray (nor scikit-learn or DEAP), so that what only reads a database (the
dashboard, ``nas status``) stays light: only pydantic, numpy and evonas's base modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evonas.metrics import DEFAULT_OBJECTIVE, Metrics, Objective
from evonas.sizes import is_large
from evonas.statuses import EvalStatus

Head = Literal["kmeans", "umap-gmm"]
HEADS: tuple[Head, ...] = ("kmeans", "umap-gmm")

UNTIL_TIME_IS_SPENT = 100_000  # the generations of a time-budgeted run that names none (also the most)


@dataclass(frozen=True)
class Augmentation:
    """Random affine augmentation and denoising noise of reconstruction training (the strengths;
    :func:`evonas.learn.augment.augment_batch` applies them)."""

    shift: float = 0.0  # largest shift, as a share of the image side
    rotation: float = 0.0  # largest rotation, degrees
    zoom: float = 0.0  # largest zoom in or out, as a share
    noise: float = 0.0  # std of the Gaussian noise on the input

    def __str__(self) -> str:
        if not self.active:
            return "none"
        return (
            f"shift {self.shift:g}, rotation {self.rotation:g} deg, zoom {self.zoom:g}, noise {self.noise:g}"
        )

    @property
    def active(self) -> bool:
        return any((self.shift, self.rotation, self.zoom, self.noise))


Status = EvalStatus  # ok, failed or pruned (never cached: that is a stored copy)


class Budget(BaseModel):
    """How much training a candidate gets, and how it is scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(
        10, ge=1, le=100_000,
        description="training epochs per candidate (images of 16x16 and more get --steps 1000 instead)",
    )  # fmt: skip
    steps: int | None = Field(
        None,
        ge=1,
        le=10**8,
        description="optimiser steps per candidate, turned into whole epochs over the training images "
        "(so small and large data sets train candidates alike; default: 1000 for images of 16x16 "
        "and more, else --epochs)",
    )
    batch_size: int = Field(64, ge=1, le=65_536)
    lr: float = Field(
        3e-3, gt=0, le=1,
        description="Adam learning rate of candidates without a recipe of their own: seeded genomes, or "
        "a space without recipes (1e-3 for images of 16x16 and more); evolved candidates train at "
        "their recipe's rate",
    )  # fmt: skip
    gate_ratio: float = Field(
        0.9,
        gt=0,
        le=1,
        description="A candidate passes the gate when its validation MSE is below "
        "gate_ratio x the MSE of predicting the mean training image.",
    )
    head: Head = Field(
        "kmeans",
        description="how a candidate's codes become clusters: kmeans, or umap-gmm (N2D's UMAP to k "
        "dimensions, then a Gaussian mixture, ~5 s more per evaluation; the default for images of "
        "16x16 and more, see the README)",
    )
    objective: Objective = Field(
        DEFAULT_OBJECTIVE,
        description="what selection maximises on the validation images: acc, nmi, ari, or silhouette "
        "(label-free; on data without labels the silhouette is used whatever this says)",
    )
    kmeans_n_init: int = Field(4, ge=1, le=1000)
    kmeans_max_samples: int = Field(
        5000, ge=10, le=10**7, description="k-means runs on at most this many validation images."
    )
    max_params: int | None = Field(None, ge=1, le=10**10)
    channels_last: bool | None = Field(
        None,
        description="Train in the channels_last memory format (faster oneDNN convolutions on CPUs). "
        "None: for images of at least 16x16, where it pays (see bench/eval_speed.py).",
    )

    def use_channels_last(self, input_shape: tuple[int, int, int]) -> bool:
        if self.channels_last is not None:
            return self.channels_last
        return is_large(input_shape)


class Rung(BaseModel):
    """One pruning checkpoint of an evaluation (successive halving has several): after ``epoch``
    epochs the partition of the validation codes is scored; below ``prune_below`` the evaluation
    stops there (``pruned``). Scoring a checkpoint does not change the training: a candidate that
    goes on ends exactly as it would have without it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epoch: int = Field(ge=1)
    prune_below: float | None = None


@dataclass(frozen=True)
class FitnessData:
    """What an evaluation needs: training images, and validation images with labels if any.

    Without labels (``y_val`` None) the objective is the silhouette of the k-means partition."""

    x_train: np.ndarray  # float32 (N, C, H, W) in [0, 1]
    x_val: np.ndarray
    y_val: np.ndarray | None
    n_clusters: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.x_train.shape
        return (c, h, w)


class EvalResult(BaseModel):
    """The outcome of one evaluation. Its scores are None when it failed; when ``pruned`` they
    are the figures at the checkpoint."""

    model_config = ConfigDict(frozen=True)

    status: Status
    metrics: Metrics = Field(default_factory=Metrics)
    rung_acc: float | None = None  # the score at the last checkpoint reached
    rung_scores: dict[int, float] = Field(default_factory=dict)  # epoch -> score, every checkpoint
    pruned_at: int | None = None
    error: str | None = None
    seconds: float = 0.0
    seed: int = 0
    device: str = "cpu"
    node: str | None = None
    weights: bytes | None = Field(None, repr=False, description="safetensors of the trained model")
    started_at: float = 0.0  # wall-clock (epoch) seconds, for concurrency accounting
    finished_at: float = 0.0
    head_seconds: float | None = None  # of ``seconds``, what the clustering head took (every checkpoint)

    @model_validator(mode="before")
    @classmethod
    def _flat_metrics(cls, data: Any) -> Any:
        """Journal payloads written before metrics were one value held them flat: lift them."""
        if isinstance(data, dict) and "metrics" not in data:
            data = dict(data)
            flat = {k: data.pop(k) for k in Metrics.fields() if k in data}
            data["metrics"] = Metrics.from_mapping(flat)
        return data
