"""Full training pieces: metrics with known answers, fine-tuning losses, the train command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from evonas.export import write_bundle
from evonas.genomes import Genome, build_autoencoder
from evonas.learn import train_reconstruction
from evonas.training.evaluation import clustering_report, map_clusters
from evonas.training.finetune import (
    FinetuneConfig,
    dispersion_weights,
    finetune,
    neighbour_augment,
    target_distribution,
)


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


def test_dispersion_weights_favour_tight_features_and_sum_to_one():
    z = torch.tensor([[0.0, 0.0], [0.1, 2.0], [-0.1, -2.0]])
    w = dispersion_weights(z, torch.zeros(1, 2), torch.zeros(3, dtype=torch.long), beta=2.0)
    assert torch.allclose(w.sum(dim=1), torch.ones(1))
    assert w[0, 0] > w[0, 1]


def test_neighbour_augmentation_adds_the_max_of_the_nearest():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0]])
    out = neighbour_augment(z, 1)
    assert out.tolist() == [[1.0, 0.0], [1.0, 0.0], [11.0, 10.0]]


@pytest.fixture(scope="module")
def trained(digits_data):
    torch.manual_seed(0)
    model = build_autoencoder(Genome.from_compact("c16k3-pmax-d10"), (1, 8, 8))
    x = torch.from_numpy(digits_data.x_train.copy())
    train_reconstruction(model, x, epochs=15, batch_size=32, lr=1e-2, rng=np.random.default_rng(0))
    return model, x


@pytest.mark.parametrize("method", ["idec", "edcwrn"])
def test_finetuning_losses_are_finite_and_decrease(trained, method):
    import copy

    model = copy.deepcopy(trained[0])
    x = trained[1]
    # one target for the whole run, so the objective is fixed and must go down
    cfg = FinetuneConfig(method=method, batch_size=64, update_interval=1000, max_iterations=300, tol=0.0)
    result = finetune(model, x, 10, cfg, seed=0)
    losses = result.losses
    assert result.iterations == 300 and len(losses) == 300
    assert all(np.isfinite(losses))
    assert np.mean(losses[-30:]) < 0.9 * np.mean(losses[:30])
    assert result.labels.shape == (len(x),) and set(result.labels) <= set(range(10))


@pytest.mark.slow
def test_nas_train_json_keys(tmp_path):
    genome = Genome.from_compact("c16k3-pmax-d10")
    torch.manual_seed(0)
    model = build_autoencoder(genome, (1, 8, 8))
    weights = tmp_path / "w.safetensors"
    save_file(model.state_dict(), str(weights))
    bundle = write_bundle(tmp_path / "b", genome, (1, 8, 8), weights, {"dataset": {"name": "digits"}})
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "evonas.nas.cli", "train", str(bundle.directory), "--dataset", "digits",
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
    assert set(metrics["finetune"]) >= {"before", "after", "method", "iterations", "seconds"}
    names = {p.name for p in (bundle.directory / "heldout").iterdir()}
    expected = {"trained.safetensors", "metrics.json", "clusters.csv", "codes.npy", "reconstructions.png"}
    assert expected | {"loss.png", "tsne.png"} <= names
    codes = np.load(bundle.directory / "heldout" / "codes.npy")
    rows = (bundle.directory / "heldout" / "clusters.csv").read_text().splitlines()
    assert codes.shape == (1797, 10) and rows[0] == "index,cluster" and len(rows) == 1798
    cmd = [
        sys.executable,
        "-m",
        "evonas.nas.cli",
        "train",
        str(tmp_path),
        "--dataset",
        "digits",
        "--epochs",
        "1",
    ]
    wrong = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert wrong.returncode == 1 and "genome.json is missing" in wrong.stderr
