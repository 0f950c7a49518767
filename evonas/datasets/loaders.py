"""Dataset loaders by name. Each returns images as float32 (N, C, H, W) in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evonas.errors import DatasetError


@dataclass(frozen=True)
class ImageData:
    """Images ``x`` (N, C, H, W) float32 in [0, 1] and optional integer labels ``y`` (N,)."""

    name: str
    x: np.ndarray
    y: np.ndarray | None

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.float32:
            raise DatasetError(
                f"Dataset {self.name!r}: images must be float32 (N, C, H, W), "
                f"got {self.x.dtype} {self.x.shape}."
            )
        if self.y is not None and self.y.shape != (self.x.shape[0],):
            raise DatasetError(
                f"Dataset {self.name!r}: {self.x.shape[0]} images but labels of shape {self.y.shape}."
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.x.shape
        return (c, h, w)

    @property
    def n_classes(self) -> int | None:
        return None if self.y is None else int(np.unique(self.y).size)

    def take(self, index: np.ndarray) -> ImageData:
        return ImageData(self.name, self.x[index], None if self.y is None else self.y[index])


def load_digits(data_dir: Path | None = None) -> ImageData:
    """scikit-learn's built-in 8x8 digits (1,797 images, 10 classes); needs no download."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return ImageData("digits", np.ascontiguousarray(x), bunch.target.astype(np.int64))


DATASETS: dict[str, Callable[[Path | None], ImageData]] = {"digits": load_digits}


def load_dataset(name: str, data_dir: Path | None = None) -> ImageData:
    """Load a dataset by name; raises :class:`DatasetError` for an unknown name."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"The 'dataset' option must be one of {sorted(DATASETS)}. Got {name!r} instead."
        ) from None
    return loader(data_dir)
