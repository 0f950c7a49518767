"""k-means on latent codes, seeded and bounded in size."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def sample_index(n: int, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """The rows of at most ``max_samples`` of ``n`` codes, drawn by ``rng`` (all when n is small)."""
    if n > max_samples:
        return np.sort(rng.choice(n, max_samples, replace=False))
    return np.arange(n)


def fit_kmeans(z: np.ndarray, k: int, n_init: int, seed: int) -> Any:
    """scikit-learn's KMeans fitted on the codes (as float64), seeded; silent about the
    ConvergenceWarning that near-duplicate codes raise."""
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed % 2**32).fit(z.astype(np.float64))
