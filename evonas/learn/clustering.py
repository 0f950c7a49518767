"""k-means on latent codes, seeded and bounded in size."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def cluster_sample(
    z: np.ndarray, k: int, n_init: int, max_samples: int, rng: np.random.Generator, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on at most ``max_samples`` codes drawn by ``rng``; returns (labels, sample index)."""
    idx = np.arange(z.shape[0])
    if z.shape[0] > max_samples:
        idx = np.sort(rng.choice(z.shape[0], max_samples, replace=False))
    return fit_kmeans(z[idx], k, n_init, seed).labels_, idx


def fit_kmeans(z: np.ndarray, k: int, n_init: int, seed: int) -> Any:
    """scikit-learn's KMeans fitted on the codes (as float64), seeded; silent about the
    ConvergenceWarning that near-duplicate codes raise."""
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed % 2**32).fit(z.astype(np.float64))
