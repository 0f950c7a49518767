"""What `nas train` and `nas cluster` read: the bundle, its dataset as the search read it, the
rows each protocol trains and scores on, and the bundle's weights (clear errors for each)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evonas.datasets import load_dataset, search_splits
from evonas.datasets.loaders import ImageData, Layout
from evonas.errors import DatasetError, NASError
from evonas.export import Bundle, read_bundle
from evonas.training.options import Protocol, TrainOptions


@dataclass(frozen=True)
class Rows:
    """The rows of one protocol: the search's training and test split, and the rows the encoder
    is fitted on and the partition is scored on."""

    train: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class TrainingInputs:
    """A bundle and the data to train it on, checked against each other."""

    bundle: Bundle
    data: ImageData
    dataset: str  # the dataset's name
    clusters: int  # how many clusters the head finds
    rows: Rows

    @property
    def labelled(self) -> bool:
        return self.data.y is not None

    def labels(self, rows: np.ndarray) -> np.ndarray | None:
        """The labels of ``rows``, or None without labels."""
        return None if self.data.y is None else np.asarray(self.data.y)[rows]


def protocol_rows(data: ImageData, split: Mapping[str, Any], protocol: Protocol) -> Rows:
    """The rows `nas train` uses: the search's split of ``data`` (``split``: its ``val_size`` and
    ``test_fraction``; empty for another dataset) into training and test rows, and the rows the
    encoder trains on and the partition is scored on under ``protocol`` (heldout: train and test;
    transductive: every row, both)."""
    splits = search_splits(
        data, val_size=int(split.get("val_size", 0)), test_fraction=float(split.get("test_fraction", 0.2))
    )
    assert splits.index is not None
    train_rows, test_rows = np.concatenate(splits.index[:2]), splits.index[2]
    if protocol == "heldout":
        return Rows(train_rows, test_rows, train_rows, test_rows)
    every = np.arange(len(data.x))
    return Rows(train_rows, test_rows, every, every)


def load_inputs(directory: Path, opts: TrainOptions) -> TrainingInputs:
    """Read the bundle and its dataset (as the search read it unless ``opts`` names another) and
    check that they fit: the image shape, labels or a cluster count, enough images to score."""
    bundle = read_bundle(directory)
    searched = bundle.meta.get("dataset", {})
    name = opts.dataset or searched.get("name")
    if not name:
        raise DatasetError(f"The bundle {directory} does not record its dataset: pass --dataset.")
    same = searched.get("name") == name
    layout: Layout = searched.get("layout", "auto") if same else "auto"
    data_dir = opts.data_dir or (Path(searched["data_dir"]) if same and searched.get("data_dir") else None)
    data = load_dataset(name, data_dir, layout)
    check_shape(data, name, bundle)
    k = opts.clusters or data.n_classes
    if k is None:
        raise DatasetError(
            f"Dataset {name!r} has no labels: pass --clusters K, the number of groups to find "
            "(ACC, NMI and ARI need labels; the label-free silhouette is reported instead)."
        )
    if k < 2:
        raise DatasetError(f"Dataset {name!r} has labels of a single class: there is nothing to cluster.")
    rows = protocol_rows(data, searched if same else {}, opts.protocol)
    if len(rows.score) < k:
        raise DatasetError(
            f"Dataset {name!r} has {len(rows.score)} test images, fewer than its {k} classes: "
            "k-means cannot find that many clusters in them (give it more images)."
        )
    return TrainingInputs(bundle, data, name, k, rows)


def check_shape(data: ImageData, name: str, bundle: Bundle) -> None:
    if data.input_shape != bundle.input_shape:
        raise DatasetError(
            f"Dataset {name!r} has images of shape {data.input_shape}, but the bundle's model "
            f"takes {bundle.input_shape}."
        )


def load_weights(path: Path, model: torch.nn.Module, what: str, hint: str) -> None:
    """Load the safetensors file ``path`` into ``model``; a clear error (ending in ``hint``) when
    it is missing, unreadable or does not fit ``what`` (the genome's compact form)."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise NASError(f"There is no weights file {path}: {hint}")
    try:
        weights = load_file(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NASError(f"Cannot read the weights {path} ({first}): {hint}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise NASError(
            f"The weights {path} do not fit {what} ({str(exc).strip().splitlines()[0]}): {hint}"
        ) from None


def check_writable(directory: Path) -> None:
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
