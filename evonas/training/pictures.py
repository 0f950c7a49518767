"""PNG pictures of a trained autoencoder: reconstructions, the loss curve, a t-SNE map."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def reconstructions(x: np.ndarray, x_hat: np.ndarray, out: Path, n: int = 10) -> Path:
    """Inputs (top row) beside their reconstructions (bottom row)."""
    plt = _plt()
    n = min(n, len(x))
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.6))
    for i in range(n):
        for row, img in ((0, x[i]), (1, x_hat[i])):
            ax = axes[row, i] if n > 1 else axes[row]
            ax.imshow(np.moveaxis(img, 0, -1).squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    fig.suptitle("inputs (top) and reconstructions (bottom)")
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def loss_curve(losses: Sequence[float], out: Path, title: str = "reconstruction loss") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(losses) + 1), losses, "o-")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def tsne_map(z: np.ndarray, clusters: np.ndarray, labels: np.ndarray, out: Path, seed: int = 0,
             max_points: int = 2000) -> Path:  # fmt: skip
    """A 2-d t-SNE map of the codes, coloured by cluster (left) and by true label (right)."""
    from sklearn.manifold import TSNE

    plt = _plt()
    idx = np.random.default_rng(seed).permutation(len(z))[:max_points]
    perplexity = float(min(30, max(2, len(idx) // 4)))
    xy = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(z[idx])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, colours, title in (
        (axes[0], clusters[idx], "k-means cluster"),
        (axes[1], labels[idx], "true label"),
    ):
        ax.scatter(xy[:, 0], xy[:, 1], c=colours, cmap="tab10", s=6)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("t-SNE of the test codes")
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
