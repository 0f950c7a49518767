"""The fitted head a `nas train` run leaves in its bundle, and `nas cluster`: new images assigned
to the clusters it found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from evonas.datasets import load_dataset
from evonas.errors import NASError
from evonas.export import read_bundle
from evonas.genomes import build_autoencoder
from evonas.learn import assign
from evonas.training.encode import encode
from evonas.training.inputs import check_shape, load_weights
from evonas.training.options import Protocol

HEAD_FILE = "head.safetensors"
WEIGHTS_FILE = "trained.safetensors"


def save_head(path: Path, arrays: dict[str, np.ndarray], head: str, k: int) -> None:
    """The fitted head as plain arrays in a safetensors file: loading it can never run code."""
    from safetensors.numpy import save_file

    save_file({n: np.ascontiguousarray(a) for n, a in arrays.items()}, str(path),
              metadata={"head": head, "clusters": str(k)})  # fmt: skip


def load_head(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The head's arrays and its name."""
    from safetensors import safe_open

    if not path.is_file():
        raise NASError(f"No fitted head at {path}: run nas train on the bundle first.")
    with safe_open(str(path), framework="np") as fh:
        meta = fh.metadata() or {}
        arrays = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 - not a dict
    return arrays, meta.get("head", "?")


def write_clusters(path: Path, labels: np.ndarray) -> None:
    """``clusters.csv``: each image's cluster, in dataset order."""
    path.write_text("index,cluster\n" + "".join(f"{i},{c}\n" for i, c in enumerate(labels)))


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
    check_shape(data, dataset, bundle)
    if out.exists() and not out.is_dir():
        raise NASError(f"--out {out} is a file: name a folder for clusters.csv and codes.npy.")
    model = build_autoencoder(bundle.genome, bundle.input_shape)
    load_weights(trained / WEIGHTS_FILE, model, bundle.genome.compact(),
                 f"run nas train on the bundle again (--protocol {protocol}).")  # fmt: skip
    z = encode(model, torch.from_numpy(data.x))
    labels = assign(arrays, z)
    try:
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "codes.npy", z.astype(np.float32))
        write_clusters(out / "clusters.csv", labels)
    except OSError as exc:
        raise NASError(f"Cannot write into {out}: {exc.strerror or exc}.") from None
    return {"images": len(labels), "head": head, "sizes": np.bincount(labels).tolist(), "out": str(out)}
