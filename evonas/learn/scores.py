"""Clustering scores against true labels: ACC (Hungarian matching), NMI and ARI."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts ``c[i, j]`` of samples in predicted cluster ``i`` with true class ``j``."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Label arrays differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}.")
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    n = max(t.max(initial=0), p.max(initial=0)) + 1
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (p, t), 1)
    return counts


def hungarian_mapping(y_true: np.ndarray, y_pred: np.ndarray) -> dict[int, int]:
    """The one-to-one map from cluster index to class index that maximises agreement.

    Indices are positions in ``np.unique`` of the predicted and true labels.
    """
    counts = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return dict(zip(rows.tolist(), cols.tolist(), strict=True))


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unsupervised clustering accuracy: the best one-to-one matching of clusters to classes."""
    counts = contingency(y_true, y_pred)
    if counts.sum() == 0:
        return 0.0
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / counts.sum())


def clustering_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """ACC, NMI and ARI of a partition ``y_pred`` against ``y_true``."""
    return {
        "acc": cluster_accuracy(y_true, y_pred),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
    }
