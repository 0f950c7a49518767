"""Full evaluation of a trained encoder: k-means on the test codes, then every score."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from evonas.learn import clustering_scores


def map_clusters(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Relabel clusters with the classes of the one-to-one Hungarian matching; an unmatched
    cluster (more clusters than classes) becomes -1."""
    classes = np.unique(y_true)
    clusters = np.unique(y_pred)
    counts = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(counts, (np.searchsorted(clusters, y_pred), np.searchsorted(classes, y_true)), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    lookup = {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols, strict=True)}
    return np.array([lookup.get(int(p), -1) for p in y_pred])


def clustering_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """ACC, NMI, ARI, per-class precision / recall / F1 after Hungarian matching, and the
    confusion matrix (rows: true classes, columns: the classes clusters were matched to)."""
    mapped = map_clusters(y_true, y_pred)
    return {**clustering_scores(y_true, y_pred), **classification_report(y_true, mapped)}


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    classes = np.unique(y_true)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "per_class": {
            str(int(c)): {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }
