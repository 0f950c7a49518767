"""Augmentation and clustering heads on small real data."""

import numpy as np
import pytest
import torch

from evonas.datasets import load_dataset
from evonas.learn import Augmentation, cluster_codes, clustering_scores, label_free_score
from evonas.learn.augment import augment_batch, random_affine


def _images(n=64):
    return torch.from_numpy(load_dataset("digits").x[:n])


def test_augmentation_is_seeded_and_changes_inputs_but_not_targets_noise():
    x = _images()
    aug = Augmentation(shift=0.1, rotation=10, zoom=0.1, noise=0.2)
    a_in, a_out = augment_batch(aug, x, torch.Generator().manual_seed(3))
    b_in, b_out = augment_batch(aug, x, torch.Generator().manual_seed(3))
    assert torch.equal(a_in, b_in) and torch.equal(a_out, b_out)  # a seed repeats it exactly
    assert not torch.equal(a_out, x)  # transformed
    assert not torch.equal(a_in, a_out) and float((a_in - a_out).abs().mean()) > 0.05  # noised input
    assert a_in.min() >= 0 and a_in.max() <= 1 and a_out.shape == x.shape
    c_in, _ = augment_batch(aug, x, torch.Generator().manual_seed(4))
    assert not torch.equal(a_in, c_in)


def test_no_augmentation_is_the_identity():
    x = _images()
    assert not Augmentation().active
    out = random_affine(x, 0.0, 0.0, 0.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_each_image_gets_its_own_transform():
    x = _images(2)[:1].repeat(8, 1, 1, 1)
    out = random_affine(x, 0.15, 15, 0.15, torch.Generator().manual_seed(0))
    assert len({out[i].numpy().tobytes() for i in range(8)}) == 8


@pytest.mark.parametrize("head", ["kmeans", pytest.param("umap-gmm", marks=pytest.mark.slow)])
def test_a_head_clusters_digits_pixels_well_and_repeats_with_its_seed(head):
    data = load_dataset("digits")
    z, y = data.x[:600].reshape(600, -1), data.y[:600]
    first = cluster_codes(z, 10, head, seed=0)
    again = cluster_codes(z, 10, head, seed=0)
    assert np.array_equal(first.labels, again.labels)
    assert np.unique(first.labels).size == 10
    acc = clustering_scores(y, first.labels)["acc"]
    assert acc > 0.6, acc  # raw digit pixels: k-means ~0.7-0.8, UMAP + GMM ~0.8-0.9
    assert first.space.shape[1] == (64 if head == "kmeans" else 10)
    assert -1 <= label_free_score(first, 0) <= 1


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="'head' option must be one of"):
        cluster_codes(np.zeros((20, 3)), 2, "dbscan", 0)  # type: ignore[arg-type]


@pytest.mark.slow
def test_umap_gmm_leaves_torchs_thread_count_as_it_found_it():
    # fitting UMAP resets the OpenMP thread count that torch shares; an evaluation given one CPU
    # that scores a rung with umap-gmm must train its next epochs on one thread, not all cores
    z = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        cluster_codes(z, 4, "umap-gmm", seed=0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
