"""Clustering heads: how latent codes become a partition.

- ``kmeans``: k-means on the codes (K-CAE's head).
- ``umap-gmm``: N2D's head: UMAP of the codes to k dimensions (20 neighbours, min_dist 0,
  euclidean), then a full-covariance Gaussian mixture of k components; each code goes to its most
  probable component. Seeded (UMAP then runs on one thread), so a run stays reproducible.

Without labels, each head's partition is scored by the silhouette in the space it was found in:
the codes for ``kmeans``, the UMAP embedding for ``umap-gmm`` (:func:`label_free_score`).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.learn.clustering import fit_kmeans
from evonas.values import HEADS, Head

UMAP_NEIGHBOURS = 20
SILHOUETTE_SAMPLES = 5000


@dataclass(frozen=True)
class Partition:
    labels: np.ndarray  # a cluster per code
    space: np.ndarray  # where the partition was found: the codes, or their UMAP embedding
    model: Any = None  # the fitted clusterer (k-means, or the Gaussian mixture)
    reducer: Any = None  # the fitted UMAP, for umap-gmm


def cluster_codes(z: np.ndarray, k: int, head: Head, seed: int, n_init: int = 4) -> Partition:
    """Partition the codes ``z`` (N, d) into ``k`` clusters with ``head``."""
    if head == "kmeans":  # the codes as they are: the silhouette is measured on them
        km = fit_kmeans(z, k, n_init, seed)
        return Partition(np.asarray(km.labels_), z, km)
    if head == "umap-gmm":
        embedding, reducer = umap_embed(np.asarray(z, dtype=np.float64), k, seed)
        gmm = fit_gmm(embedding, k, seed)
        return Partition(np.asarray(gmm.predict(embedding)), embedding, gmm, reducer)
    raise ValueError(f"The 'head' option must be one of {list(HEADS)}. Got {head!r} instead.")


def umap_embed(z: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, Any]:
    """UMAP of the codes to ``k`` dimensions, as N2D does; returns (embedding, fitted reducer)."""
    import umap  # imported here: numba compiles it on first use (once per worker process)

    n_neighbors = max(2, min(UMAP_NEIGHBOURS, len(z) - 1))
    reducer = umap.UMAP(
        n_components=max(2, min(k, len(z) - 2)), n_neighbors=n_neighbors, min_dist=0.0,
        metric="euclidean", random_state=seed % 2**32,
    )  # fmt: skip
    with warnings.catch_warnings(), _torch_threads_kept():
        warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state": wanted
        embedding = reducer.fit_transform(z)
    return np.asarray(embedding, dtype=np.float64), reducer


@contextlib.contextmanager
def _torch_threads_kept() -> Iterator[None]:
    """Fitting UMAP sets the process's OpenMP thread count (numba and torch share it) back to all
    cores: an evaluation given one CPU would then train its next epochs on every core. Put back
    what torch had (when torch is loaded at all)."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if torch is not None and threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def fit_gmm(x: np.ndarray, k: int, seed: int) -> Any:
    from sklearn.mixture import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(
            n_components=k, covariance_type="full", random_state=seed % 2**32, reg_covar=1e-5
        ).fit(x)


def label_free_score(partition: Partition, seed: int) -> float:
    """The silhouette of the partition in the space it was found in (at most 5,000 codes)."""
    from sklearn.metrics import silhouette_score

    if np.unique(partition.labels).size < 2:
        raise ValueError("the head put every code in one cluster")
    n = len(partition.labels)
    size = None if n <= SILHOUETTE_SAMPLES else SILHOUETTE_SAMPLES  # every code when they are few
    return float(
        silhouette_score(partition.space, partition.labels, sample_size=size, random_state=seed % 2**32)
    )


# -- a fitted head kept as plain arrays (no pickles), and new codes assigned with it ---------------
NEAREST = 10  # stored codes whose embeddings place a new code (umap-gmm)


def head_arrays(partition: Partition, z: np.ndarray) -> dict[str, np.ndarray]:
    """What :func:`assign` needs of a fitted head, as float arrays: k-means' centres, or (umap-gmm)
    the codes it was fitted on, their UMAP embedding and the mixture's parameters. UMAP's own
    fitted transform cannot be saved without pickling it, so new codes are placed by their nearest
    stored codes instead (:func:`assign`)."""
    if partition.reducer is None:
        return {"centres": np.asarray(partition.model.cluster_centers_, dtype=np.float64)}
    gmm = partition.model
    return {
        "codes": np.asarray(z, dtype=np.float32),
        "embedding": np.asarray(partition.space, dtype=np.float64),
        "means": gmm.means_, "covariances": gmm.covariances_, "weights": gmm.weights_,
        "precisions_cholesky": gmm.precisions_cholesky_,
    }  # fmt: skip


def assign(arrays: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """The cluster of each new code ``z`` under a head kept by :func:`head_arrays`.

    k-means: the nearest centre (exact). umap-gmm: the code's UMAP embedding is approximated by the
    inverse-distance-weighted mean of the embeddings of its ``NEAREST`` nearest stored codes, then
    the Gaussian mixture gives its most probable component."""
    z = np.asarray(z, dtype=np.float64)
    if "centres" in arrays:
        d = ((z[:, None, :] - arrays["centres"][None]) ** 2).sum(-1)
        return np.asarray(d.argmin(1))
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import NearestNeighbors

    stored = np.asarray(arrays["codes"], dtype=np.float64)
    knn = NearestNeighbors(n_neighbors=min(NEAREST, len(stored))).fit(stored)
    dist, idx = knn.kneighbors(z)
    w = 1.0 / np.maximum(dist, 1e-12)
    w /= w.sum(1, keepdims=True)
    embedded = (arrays["embedding"][idx] * w[..., None]).sum(1)
    gmm = GaussianMixture(n_components=len(arrays["weights"]), covariance_type="full")
    gmm.means_, gmm.covariances_ = arrays["means"], arrays["covariances"]
    gmm.weights_, gmm.precisions_cholesky_ = arrays["weights"], arrays["precisions_cholesky"]
    return np.asarray(gmm.predict(embedded))
