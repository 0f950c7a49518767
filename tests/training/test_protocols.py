"""`nas train` under both protocols, with both heads, on labelled and unlabelled digits."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from evonas.datasets import load_dataset
from evonas.errors import DatasetError
from evonas.export import write_bundle
from evonas.genomes import Genome, build_autoencoder
from evonas.learn import clustering_scores
from evonas.training import TrainOptions, train_bundle

pytestmark = pytest.mark.slow  # real training and UMAP


def _bundle(tmp_path, compact="c16k3-pmax-d10+aug:weak,noise:0.1,lr:0.003", name="digits"):
    genome = Genome.from_compact(compact)
    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    save_file(build_autoencoder(genome, (1, 8, 8)).state_dict(), str(weights))
    return write_bundle(tmp_path / "b", genome, (1, 8, 8), weights, {"dataset": {"name": name}})


def test_the_two_protocols_write_apart_and_score_what_they_say(tmp_path):
    bundle = _bundle(tmp_path)
    held = train_bundle(
        bundle.directory, TrainOptions(dataset="digits", epochs=1, head="kmeans", pictures=False)
    )
    trans = train_bundle(
        bundle.directory,
        TrainOptions(dataset="digits", epochs=1, head="kmeans", protocol="transductive", pictures=False),
    )
    assert held.protocol == "heldout" and trans.protocol == "transductive"
    assert held.test_size == 359 and held.train_size == 1797 - 359  # the test split only
    assert trans.test_size == trans.train_size == 1797  # every image
    for protocol, m in (("heldout", held), ("transductive", trans)):
        stored = json.loads((bundle.directory / protocol / "metrics.json").read_text())
        assert stored == json.loads(json.dumps(m.to_json())) and 0.2 < m.metrics.acc <= 1
        assert stored["acc"] == m.metrics.acc and set(stored) >= {"per_class", "confusion", "nmi"}
    # the bundle's recipe trains it unless a flag says otherwise
    assert held.lr == 0.003 and held.augmentation.startswith("shift 0.05")
    plain = train_bundle(
        bundle.directory,
        TrainOptions(
            dataset="digits", epochs=1, head="kmeans", augment="none", noise=0, lr=1e-3, pictures=False
        ),
    )
    assert plain.augmentation == "none" and plain.lr == 1e-3


def test_the_umap_gmm_head_scores_from_the_same_model(tmp_path):
    bundle = _bundle(tmp_path, compact="c16k3-pmax-d10")
    m = train_bundle(
        bundle.directory, TrainOptions(dataset="digits", epochs=3, head="umap-gmm", pictures=False)
    )
    assert m.head == "umap-gmm" and m.metrics.acc > 0.3 and m.head_seconds > 0  # far above 0.1, chance


def test_unlabelled_images_get_clusters_and_codes_and_a_label_free_score(tmp_path):
    data = load_dataset("digits")
    path = tmp_path / "mine.npz"
    np.savez(path, x=(data.x[:, 0] * 255).astype(np.uint8))  # no 'y'
    bundle = _bundle(tmp_path, compact="c16k3-pmax-d10", name=str(path))
    with pytest.raises(DatasetError, match="pass --clusters K"):
        train_bundle(
            bundle.directory, TrainOptions(dataset=str(path), epochs=1, head="kmeans", pictures=False)
        )
    m = train_bundle(
        bundle.directory,
        TrainOptions(dataset=str(path), epochs=1, head="kmeans", clusters=10, pictures=False),
    )
    assert m.metrics.acc is None and -1 <= m.metrics.silhouette <= 1
    out = bundle.directory / "heldout"
    clusters = np.loadtxt(out / "clusters.csv", delimiter=",", skiprows=1, dtype=int)
    assert clusters.shape == (1797, 2) and set(clusters[:, 1]) == set(range(10))
    assert np.load(out / "codes.npy").shape == (1797, 10)


@pytest.mark.parametrize("head", ["kmeans", "umap-gmm"])
def test_nas_cluster_assigns_new_images_as_the_trained_head_did(tmp_path, head):
    from evonas.cli import main

    data = load_dataset("digits")
    path = tmp_path / "digits.npz"
    np.savez(path, x=(data.x[:, 0] * 255).astype(np.uint8), y=data.y)
    bundle = _bundle(tmp_path, compact="c16k3-pmax-d10", name=str(path))
    trained = train_bundle(
        bundle.directory,
        TrainOptions(dataset=str(path), epochs=3, head=head, protocol="transductive", pictures=False),
    )
    assert (bundle.directory / "transductive" / "head.safetensors").is_file()
    out = tmp_path / "assigned"
    code = main(["cluster", str(bundle.directory), "--dataset", str(path), "--out", str(out), "--protocol",
                 "transductive"])  # fmt: skip
    assert code == 0
    fitted = np.loadtxt(
        bundle.directory / "transductive" / "clusters.csv", delimiter=",", skiprows=1, dtype=int
    )
    again = np.loadtxt(out / "clusters.csv", delimiter=",", skiprows=1, dtype=int)
    agreement = clustering_scores(fitted[:, 1], again[:, 1])["acc"]  # same images: how often they agree
    print(f"{head}: the saved head reassigns {agreement:.4f} of the images it was fitted on alike")
    assert agreement == 1.0 if head == "kmeans" else agreement > 0.95
    assert trained.metrics.acc is not None


def test_the_umap_gmm_approximation_agrees_with_the_full_head_on_unseen_codes():
    """Fit the head on 1,400 codes and place 397 unseen ones by their nearest stored codes; compare
    with the partition a head fitted on all 1,797 finds for them (the agreement the README quotes)."""
    from evonas.learn import assign, cluster_codes, head_arrays

    data = load_dataset("digits")
    z = data.x.reshape(len(data.x), -1)
    order = np.random.default_rng(0).permutation(len(z))
    seen, unseen = order[:1400], order[1400:]
    part = cluster_codes(z[seen], 10, "umap-gmm", seed=0)
    placed = assign(head_arrays(part, z[seen]), z[unseen])
    full = cluster_codes(z, 10, "umap-gmm", seed=0).labels[unseen]
    agreement = clustering_scores(full, placed)["acc"]
    truth = clustering_scores(data.y[unseen], placed)["acc"]
    print(f"agreement with the full head {agreement:.4f}; ACC of the placed codes {truth:.4f}")
    assert agreement > 0.8 and truth > 0.7
