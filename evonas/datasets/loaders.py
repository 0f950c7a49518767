"""Dataset loaders by name. Each returns images as float32 (N, C, H, W) in [0, 1].

Built in: ``digits`` (scikit-learn's 8x8 digits, no download). From files in ``--data-dir``:
``mnist`` and ``fashion-mnist`` (the four official IDX files, gzip'd or not) and ``cifar10``
(the official python-pickle batches). Any ``.npz`` file (``--dataset path/to/file.npz``) with
an array ``x`` and an optional ``y`` is a custom dataset.
"""

from __future__ import annotations

import gzip
import logging
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evonas.errors import DatasetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageData:
    """Images ``x`` (N, C, H, W) float32 in [0, 1], optional integer labels ``y`` (N,), and,
    for datasets that come with one, the official test split (``n_test`` rows at the end)."""

    name: str
    x: np.ndarray
    y: np.ndarray | None
    n_test: int | None = None

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


# -- IDX (MNIST, Fashion-MNIST) -----------------------------------------------------------------
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def _need_dir(name: str, data_dir: Path | None) -> Path:
    if data_dir is None:
        raise DatasetError(
            f"Dataset {name!r} is read from files: pass --data-dir PATH "
            f"(fetch them with 'nas data download {name} --data-dir PATH' where the internet is reachable)."
        )
    if not Path(data_dir).is_dir():
        raise DatasetError(f"The data directory {data_dir} does not exist.")
    return Path(data_dir)


def read_idx(path: Path, dims: int) -> np.ndarray:
    """One IDX file (gzip'd or not) of unsigned bytes with ``dims`` dimensions."""
    opener = gzip.open if path.suffix == ".gz" else open
    expected = 0x0800 | dims
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            head = fh.read(4 + 4 * dims)
            if len(head) < 4 + 4 * dims:
                raise DatasetError(f"{path} is truncated: expected an IDX header of {4 + 4 * dims} bytes.")
            magic, *shape = struct.unpack(f">I{dims}I", head)
            if magic != expected:
                raise DatasetError(
                    f"{path} is not an IDX file of {dims}-d unsigned bytes: magic number {magic:#x}, "
                    f"expected {expected:#x}."
                )
            body = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"Cannot read {path}: {exc} (a corrupt or partly downloaded file?)") from None
    size = int(np.prod(shape))
    if len(body) != size:
        raise DatasetError(
            f"{path} holds {len(body)} bytes of data, but its header {tuple(shape)} says {size}."
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"Missing {stem}.gz (or {stem}) in {folder}.")


def load_idx_dataset(name: str, data_dir: Path | None) -> ImageData:
    """The official four IDX files: 60,000 training then 10,000 test images (the official split)."""
    folder = _need_dir(name, data_dir)
    arrays = {
        key: read_idx(_find(folder, stem), 3 if key.endswith("x") else 1) for key, stem in IDX_FILES.items()
    }
    for part in ("train", "test"):
        if len(arrays[f"{part}_x"]) != len(arrays[f"{part}_y"]):
            raise DatasetError(
                f"{folder}: {len(arrays[f'{part}_x'])} {part} images but {len(arrays[f'{part}_y'])} labels."
            )
    x = np.concatenate([arrays["train_x"], arrays["test_x"]]).astype(np.float32)[:, None] / 255.0
    y = np.concatenate([arrays["train_y"], arrays["test_y"]]).astype(np.int64)
    return ImageData(name, x, y, n_test=len(arrays["test_x"]))


# -- CIFAR-10 ------------------------------------------------------------------------------------
class _Forbidden(Exception):
    """A pickle asked for a global that a CIFAR-10 batch never holds."""


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles built-in containers, bytes, strings, numbers and numpy arrays, nothing else:
    a crafted batch file cannot name a function to call (``os.system``, ``eval``, ...)."""

    ALLOWED = frozenset({
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")  # an array, a number (from its dtype and bytes)
    } | {("numpy", "ndarray"), ("numpy", "dtype")})  # fmt: skip

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise _Forbidden(f"{module}.{name}")
        return super().find_class(module, name)


def load_cifar10(data_dir: Path | None) -> ImageData:
    """The official python-pickle batches (data_batch_1..5, test_batch), in DIR or
    DIR/cifar-10-batches-py."""
    folder = _need_dir("cifar10", data_dir)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    xs, ys = [], []
    for stem in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        path = folder / stem
        if not path.is_file():
            raise DatasetError(f"Missing {stem} in {folder} (the CIFAR-10 python version has 6 batch files).")
        try:
            with path.open("rb") as fh:  # the official format is pickle: read it without running code
                batch = _BatchUnpickler(fh, encoding="bytes").load()
            data, labels = batch[b"data"], batch[b"labels"]
        except _Forbidden as exc:
            raise DatasetError(
                f"{path} is not a CIFAR-10 batch: it asks to run {exc} while loading, which evonas "
                "refuses (an official batch holds only a dict, lists, bytes and a numpy array). "
                "Download the official files again."
            ) from None
        except Exception as exc:
            raise DatasetError(
                f"{path} is not a CIFAR-10 batch (a pickled dict with data and labels): {exc}"
            ) from None
        data = np.asarray(data, dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise DatasetError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape}.")
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(np.asarray(labels, dtype=np.int64))
    x = np.concatenate(xs).astype(np.float32) / 255.0
    return ImageData("cifar10", x, np.concatenate(ys), n_test=len(xs[-1]))


# -- custom .npz ---------------------------------------------------------------------------------
Layout = Literal["auto", "nchw", "nhwc"]
CHANNEL_COUNTS = (1, 3, 4)


def resolve_layout(shape: tuple[int, ...], layout: Layout = "auto") -> Literal["nchw", "nhwc"]:
    """Which axis of an (N, A, B, C) array holds the channels.

    ``auto``: channels-last (NHWC) when C is 1, 3 or 4 and A is not; channels-first (NCHW) when A
    is and C is not; when both could be (e.g. (N, 4, 4, 3)) channels-last, the layout of image
    files and of most numpy image code, with a warning that ``--layout nchw`` says otherwise."""
    if layout != "auto":
        return layout
    first, last = shape[1] in CHANNEL_COUNTS, shape[-1] in CHANNEL_COUNTS
    if first and not last:
        return "nchw"
    if first and last:
        log.warning(
            "x has shape %s: both axis 1 and the last axis could hold the channels; reading it as "
            "(N, H, W, C), channels last (pass --layout nchw if axis 1 holds them)", shape,
        )  # fmt: skip
    return "nhwc" if last else "nchw"


def load_npz(path: Path, layout: Layout = "auto") -> ImageData:
    """``x`` as (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float; optional integer ``y``.
    ``layout`` says how a 4-d ``x`` is laid out (:func:`resolve_layout`)."""
    if not path.is_file():
        raise DatasetError(f"No file {path}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files:
                raise DatasetError(f"{path} has no array 'x' (it has {sorted(npz.files)}).")
            x = npz["x"]
            y = npz["y"] if "y" in npz.files else None
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"Cannot read {path} as an .npz file: {exc}") from None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if resolve_layout(x.shape, layout) == "nhwc":
            x = np.moveaxis(x, -1, 1)
    else:
        raise DatasetError(f"{path}: 'x' must be (N, H, W), (N, H, W, C) or (N, C, H, W); got {x.shape}.")
    if x.shape[0] == 0 or min(x.shape[1:]) == 0:
        raise DatasetError(f"{path}: 'x' holds no images (shape {x.shape}).")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if not np.isfinite(x).all():
            raise DatasetError(f"{path}: 'x' holds NaN or infinite values.")
        if lo < 0.0 or hi > 1.0:
            log.warning("%s: pixel values span [%g, %g]; scaling them to [0, 1]", path, lo, hi)
            x = (x - lo) / (hi - lo if hi > lo else 1.0)
    else:
        raise DatasetError(f"{path}: 'x' must be uint8 or floating point, not {x.dtype}.")
    if y is not None:
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(f"{path}: 'y' must be {x.shape[0]} integer labels; got {y.dtype} {y.shape}.")
        y = y.astype(np.int64)
    return ImageData(path.stem, np.ascontiguousarray(x), y)


DATASETS: dict[str, Callable[[Path | None], ImageData]] = {
    "digits": load_digits,
    "mnist": lambda d: load_idx_dataset("mnist", d),
    "fashion-mnist": lambda d: load_idx_dataset("fashion-mnist", d),
    "cifar10": load_cifar10,
}


def load_dataset(name: str, data_dir: Path | None = None, layout: Layout = "auto") -> ImageData:
    """Load a dataset by name, or a custom ``.npz`` file by path; raises :class:`DatasetError`."""
    if name.endswith(".npz"):
        return load_npz(Path(name), layout)
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"The 'dataset' option must be one of {sorted(DATASETS)} or a path to an .npz file. "
            f"Got {name!r} instead."
        ) from None
    return loader(Path(data_dir) if data_dir is not None else None)
