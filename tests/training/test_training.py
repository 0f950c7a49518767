"""Full training pieces: metrics with known answers, fine-tuning losses, the train command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from evonas.training.evaluation import clustering_report, map_clusters
from evonas.training.finetune import target_distribution

from .test_finetune import digits_bundle


def test_report_of_a_relabelled_perfect_clustering():
    y = np.repeat(np.arange(4), 5)
    pred = np.array([3, 0, 2, 1])[y]
    report = clustering_report(y, pred)
    assert report["acc"] == report["nmi"] == report["ari"] == pytest.approx(1.0)
    assert all(v["precision"] == v["recall"] == v["f1"] == 1.0 for v in report["per_class"].values())
    assert report["confusion"] == (5 * np.eye(4, dtype=int)).tolist()


def test_report_with_known_mistakes():
    y = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([7, 7, 9, 9, 9, 9])  # cluster 7 -> class 0, cluster 9 -> class 1
    assert map_clusters(y, pred).tolist() == [0, 0, 1, 1, 1, 1]
    report = clustering_report(y, pred)
    assert report["acc"] == pytest.approx(5 / 6)
    assert report["per_class"]["0"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                         "f1": pytest.approx(0.8), "support": 3}  # fmt: skip
    assert report["per_class"]["1"]["precision"] == pytest.approx(0.75)
    assert report["confusion"] == [[2, 1], [0, 3]]


def test_target_distribution_sharpens_and_normalises():
    q = torch.tensor([[0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])
    p = target_distribution(q)
    assert torch.allclose(p.sum(dim=1), torch.ones(3))
    assert p[0, 0] > q[0, 0] and p[2, 1] > q[2, 1]


@pytest.mark.slow
def test_nas_train_json_keys(tmp_path):
    bundle = digits_bundle(tmp_path)
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "train", str(bundle.directory), "--dataset", "digits",
         "--epochs", "2", "--finetune", "idec", "--finetune-iterations", "50", "--classifier", "probe",
         "--classifier-epochs", "2", "--head", "kmeans", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert {"acc", "nmi", "ari", "per_class", "confusion", "finetune", "classifier"} <= set(metrics)
    assert set(metrics["per_class"]) == {str(c) for c in range(10)}
    assert set(metrics["finetune"]) >= {"before", "after", "method"}
    assert 0 <= metrics["classifier"]["accuracy"] <= 1
    assert metrics["head"] == "kmeans" and metrics["protocol"] == "heldout"
    assert set(metrics["finetune"]) >= {
        "before",
        "after",
        "method",
        "iterations",
        "seconds",
        "stopped_because",
    }
    names = {p.name for p in (bundle.directory / "heldout").iterdir()}
    expected = {"trained.safetensors", "metrics.json", "clusters.csv", "codes.npy", "reconstructions.png"}
    assert expected | {"loss.png", "tsne.png"} <= names
    codes = np.load(bundle.directory / "heldout" / "codes.npy")
    rows = (bundle.directory / "heldout" / "clusters.csv").read_text().splitlines()
    assert codes.shape == (1797, 10) and rows[0] == "index,cluster" and len(rows) == 1798
    cmd = [
        sys.executable,
        "-m",
        "evonas.cli",
        "train",
        str(tmp_path),
        "--dataset",
        "digits",
        "--epochs",
        "1",
    ]
    wrong = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert wrong.returncode == 1 and "genome.json is missing" in wrong.stderr
