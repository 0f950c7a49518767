"""The fixed splits a search uses: a test split it never sees, a validation split for fitness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evonas.datasets.loaders import ImageData
from evonas.errors import DatasetError

SPLIT_SEED = 20261123  # fixed: every run on a dataset sees the same splits


@dataclass(frozen=True)
class SearchSplits:
    train: ImageData  # what candidates train on
    val: ImageData  # what fitness is scored on
    test: ImageData  # held out from the search; for final evaluation only
    index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # rows of the dataset in each


def search_splits(
    data: ImageData, *, val_size: int, test_fraction: float, subset: int | None = None
) -> SearchSplits:
    """Carve test, then validation, then (optionally at most ``subset``) training images.

    A dataset with an official test split (MNIST, Fashion-MNIST, CIFAR-10) keeps it as the
    test split; otherwise ``test_fraction`` of the images are held out.

    The permutation is fixed (independent of the run's seed), so runs on the same dataset
    are comparable and can share cached evaluations.
    """
    n = data.x.shape[0]
    n_test = data.n_test if data.n_test is not None else round(n * test_fraction)
    if n - n_test - val_size < 2:
        raise DatasetError(
            f"Dataset {data.name!r} has {n} images: too few for a test split of {n_test} "
            f"and a validation split of {val_size} (lower --val-size)."
        )
    rng = np.random.default_rng(SPLIT_SEED)
    if data.n_test is not None:  # the dataset's official test split: its last n_test rows
        test = np.arange(n - n_test, n)
        rest = rng.permutation(n - n_test)
    else:
        order = rng.permutation(n)
        test, rest = order[:n_test], order[n_test:]
    val, train = rest[:val_size], rest[val_size:]
    if subset is not None:
        train = train[:subset]
    train, val, test = np.sort(train), np.sort(val), np.sort(test)
    return SearchSplits(data.take(train), data.take(val), data.take(test), (train, val, test))
