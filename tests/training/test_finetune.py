"""EDCWRN's elements and IDEC with augmentation, each on small data; the options' validation."""

from __future__ import annotations

import copy
import itertools
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
from evonas.learn.augment import Augmentation
from evonas.training.finetune import (
    FinetuneConfig,
    _embed,
    _start,
    _Thresholds,
    dispersion_weights,
    finetune,
    nearest_neighbours,
    reliable_mask,
    weighted_kernel,
)


def test_kernel_uses_the_authors_constants():
    z, centre, w = torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2), torch.tensor([[0.5, 0.5]])
    cfg = FinetuneConfig(method="edcwrn")
    assert (cfg.kernel_a, cfg.kernel_b) == (1.93, 0.79)
    q = weighted_kernel(z, centre, w, cfg.kernel_a, cfg.kernel_b)
    assert float(q) == pytest.approx(1 / (1 + 1.93 * 2.5**0.79), rel=1e-5)  # d = 0.5 * 1 + 0.5 * 4


def test_feature_weights_favour_tight_features_sum_to_one_and_need_beta_above_one():
    e = torch.tensor([[0.0, 0.0], [0.1, 2.0], [-0.1, -2.0]])
    q = torch.ones(3, 1)
    w = dispersion_weights(e, torch.zeros(1, 2), q, beta=2.0)
    assert torch.allclose(w.sum(dim=1), torch.ones(1))
    assert w[0, 0] > 0.99 * 1 and w[0, 1] < 0.01  # dispersions 0.0067 and 2.67
    # the variance term pulls the weights towards each other; a larger beta flattens them too
    w_lam = dispersion_weights(e, torch.zeros(1, 2), q, beta=2.0, lam=0.1)
    assert w_lam[0, 1] > w[0, 1] and torch.allclose(w_lam.sum(dim=1), torch.ones(1))
    assert dispersion_weights(e, torch.zeros(1, 2), q, beta=4.0)[0, 1] > w[0, 1]
    with pytest.raises(ValueError, match="> 1"):
        dispersion_weights(e, torch.zeros(1, 2), q, beta=1.0)


def test_reliable_samples_are_confident_in_both_q_and_p():
    q = torch.tensor([[0.9, 0.1], [0.55, 0.45], [0.95, 0.05]])
    p = torch.tensor([[0.95, 0.05], [0.6, 0.4], [0.5, 0.5]])
    assert reliable_mask(q, p, 0.8, 0.4).tolist() == [True, False, False]
    assert reliable_mask(q, p, -0.9, -0.45).tolist() == [True, True, True]  # the authors' start


def test_thresholds_drop_only_when_the_reliable_set_shrinks():
    t = _Thresholds(0.9, 0.09)
    assert (t.b1, t.b2) == (0.9, 0.45)
    t.update(100, first=True)
    t.update(120, first=False)  # grew: unchanged
    assert t.b1 == 0.9
    t.update(80, first=False)  # shrank: both lowered by the step
    assert t.b1 == pytest.approx(0.81) and t.b2 == pytest.approx(0.36)
    # the authors' notebook lowers them only while both lie in [0, 1]: from -0.9 they never move
    low = _Thresholds(-0.9, 0.09)
    low.update(100, first=True)
    low.update(50, first=False)
    assert (low.b1, low.b2) == (-0.9, -0.45)
    edge = _Thresholds(0.05, 0.09)  # b2 = 0.025: lowered once, then out of range
    for count in (100, 90, 80, 70):
        edge.update(count, first=count == 100)
    assert edge.b1 == pytest.approx(-0.04)


def test_edcwrn_loss_normalises_q_so_centres_do_not_collapse():
    """Keras' categorical cross-entropy (the authors' loss) normalises Q per sample: moving every
    centre onto the code must not lower it, as it would for -sum p log q of the raw kernel."""
    from evonas.training.finetune import _Clusterer

    e = torch.tensor([[0.0, 0.0]])
    spread = _Clusterer(np.array([[0.0, 0.0], [3.0, 3.0]]), FinetuneConfig(method="edcwrn"))
    collapsed = _Clusterer(np.array([[0.0, 0.0], [0.0, 0.0]]), FinetuneConfig(method="edcwrn"))
    p = torch.tensor([[1.0, 0.0]])
    assert spread.loss(spread.q(e), p) < collapsed.loss(collapsed.q(e), p)
    assert float(collapsed.loss(collapsed.q(e), p)) == pytest.approx(np.log(2), rel=1e-4)


def test_nearest_neighbours_skip_the_sample_itself():
    e = np.array([[0.0], [1.0], [1.5], [10.0]])
    assert nearest_neighbours(e, 2).tolist() == [[1, 2], [2, 0], [1, 0], [2, 1]]


def test_embedding_adds_the_elementwise_max_of_the_neighbours_codes():
    class Identity(torch.nn.Module):
        def encode(self, x: torch.Tensor) -> torch.Tensor:
            return x

    xb = torch.tensor([[1.0, 0.0]])
    xn = torch.tensor([[[0.0, 3.0], [2.0, 1.0]]])  # (n=1, k=2, d=2)
    assert _embed(Identity(), xb, xn).tolist() == [[3.0, 3.0]]
    assert _embed(Identity(), xb, None).tolist() == [[1.0, 0.0]]


def test_option_validation_names_the_flag():
    with pytest.raises(ValueError, match="--feature-beta"):
        FinetuneConfig.for_method("edcwrn", Augmentation(), feature_beta=1.0)
    with pytest.raises(ValueError, match="--kernel-a"):
        FinetuneConfig.for_method("edcwrn", Augmentation(), kernel_a=0)
    cfg = FinetuneConfig.for_method("edcwrn", Augmentation())
    assert (cfg.augment.shift, cfg.augment.rotation, cfg.augment.zoom) == (0.1, 10.0, 0.1)
    assert cfg.kmeans_n_init == 150 and cfg.neighbours == 2 and cfg.update_interval == 140
    assert cfg.tol == 0.001 and cfg.feature_beta == 2.0 and cfg.reliable_start == -0.9
    assert (cfg.optimizer, cfg.lr, cfg.momentum) == ("sgd", 1.0, 0.9)  # the authors'
    assert (
        FinetuneConfig.for_method("idec", Augmentation()).optimizer,
        FinetuneConfig.for_method("idec", Augmentation()).lr,
    ) == ("adam", 1e-4)
    recipe = Augmentation(0.05, 5.0, 0.05)
    assert FinetuneConfig.for_method("idec", recipe).augment == recipe  # IDEC: the bundle's recipe


@pytest.fixture(scope="module")
def trained(digits_data):
    torch.manual_seed(0)
    model = build_autoencoder(Genome.from_compact("c16k3-pmax-d10"), (1, 8, 8))
    x = torch.from_numpy(digits_data.x_train.copy())
    train_reconstruction(model, x, epochs=15, batch_size=32, lr=1e-2, rng=np.random.default_rng(0))
    return model, x


@pytest.mark.parametrize("method", ["idec", "edcwrn"])
def test_losses_are_finite_and_decrease(trained, method):
    model = copy.deepcopy(trained[0])
    x = trained[1]
    # one target for the whole run, so the objective is fixed and must go down
    cfg = FinetuneConfig(method=method, batch_size=64, update_interval=1000, max_iterations=300, tol=0.0,
                         lr=1e-3, kmeans_n_init=4)  # fmt: skip
    result = finetune(model, x, 10, cfg, seed=0)
    losses = result.losses
    assert result.iterations == 300 and len(losses) == 300
    assert result.stopped_because == "iteration limit"
    assert all(np.isfinite(losses))
    # EDCWRN's cross-entropy cannot fall below the entropy of P (no collapse): ask for a clear fall
    assert np.mean(losses[-30:]) < 0.97 * np.mean(losses[:30])
    assert result.labels.shape == (len(x),) and set(result.labels) <= set(range(10))


def test_stopping_rule_ends_when_labels_settle(trained):
    model = copy.deepcopy(trained[0])
    x = trained[1]
    # any label change below 99.9% counts as settled: the second target update stops the run
    cfg = FinetuneConfig(method="edcwrn", batch_size=64, update_interval=20, max_iterations=1000, tol=0.999,
                         kmeans_n_init=2)  # fmt: skip
    result = finetune(model, x, 10, cfg, seed=0)
    assert result.stopped_because == "labels settled" and result.iterations == 20
    assert [h["iteration"] for h in result.history] == [0.0, 20.0]
    # an update reports the mean loss of the iterations before it (the first has none yet)
    assert "loss" not in result.history[0]
    assert result.history[1]["loss"] == pytest.approx(np.mean(result.losses[:20]))


def test_only_reliable_samples_train_and_the_thresholds_fall(trained):
    model = copy.deepcopy(trained[0])
    x = trained[1]
    cfg = FinetuneConfig(method="edcwrn", batch_size=64, update_interval=10, max_iterations=200, tol=0.0,
                         reliable_start=0.5, reliable_step=0.2, kmeans_n_init=2)  # fmt: skip
    result = finetune(model, x, 10, cfg, seed=0)
    counts = [int(h["reliable"]) for h in result.history]
    b1 = [h["b1"] for h in result.history]
    assert counts[0] < len(x)  # a positive start leaves some samples out
    assert all(later <= earlier for earlier, later in itertools.pairwise(b1))
    for before, after, now in zip(counts, counts[1:], b1[1:], strict=False):
        if after < before:  # the set shrank at this update: its thresholds were lowered
            assert now < cfg.reliable_start
    # with the authors' start of -0.9 every sample is reliable
    cfg_all = cfg.model_copy(update={"reliable_start": -0.9, "max_iterations": 20})
    assert all(
        int(h["reliable"]) == len(x) for h in finetune(copy.deepcopy(trained[0]), x, 10, cfg_all).history
    )


def test_centres_from_the_head_are_each_clusters_mean_embedding():
    e = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 14.0]])
    labels = np.array([1, 1, 0, 0])
    centres, start = _start(e, 2, FinetuneConfig(centres="head"), 0, labels)
    assert centres.tolist() == [[11.0, 12.0], [1.0, 0.0]] and start is labels
    with pytest.raises(ValueError, match="--finetune-centres kmeans"):  # a cluster the head left empty
        _start(e, 3, FinetuneConfig(centres="head"), 0, labels)
    with pytest.raises(ValueError, match="the head's cluster of every"):
        _start(e, 2, FinetuneConfig(centres="head"), 0, None)
    km_centres, km_labels = _start(e, 2, FinetuneConfig(kmeans_n_init=2), 0, labels)  # the papers' start
    assert sorted(km_centres[:, 0].tolist()) == [1.0, 11.0] and len(set(km_labels.tolist())) == 2


def test_finetune_from_the_heads_partition_counts_label_changes_from_it(trained):
    model, x = copy.deepcopy(trained[0]), trained[1]
    cfg = FinetuneConfig(method="idec", batch_size=64, update_interval=10, max_iterations=10, tol=0.0,
                         centres="head")  # fmt: skip
    rng = np.random.default_rng(0)
    # a partition unrelated to the codes: most samples leave their start cluster at the first update
    scrambled = rng.permutation(np.arange(len(x)) % 10)
    first = finetune(copy.deepcopy(model), x, 10, cfg, seed=0, start_labels=scrambled).history[0]
    with torch.no_grad():
        codes = model.encode(x).numpy()
    _, own = _start(codes, 10, FinetuneConfig(kmeans_n_init=2), 0, None)  # a partition of the codes
    settled = finetune(copy.deepcopy(model), x, 10, cfg, seed=0, start_labels=own).history[0]
    assert first["label_change"] > 0.5 > settled["label_change"]


def test_idec_with_augmentation_trains_on_transformed_images(trained):
    model = copy.deepcopy(trained[0])
    x = trained[1]
    plain = FinetuneConfig(method="idec", batch_size=64, max_iterations=30, tol=0.0, kmeans_n_init=2)
    aug = plain.model_copy(update={"augment": Augmentation(0.1, 10.0, 0.1)})
    a = finetune(copy.deepcopy(model), x, 10, plain, seed=0).losses
    b = finetune(copy.deepcopy(model), x, 10, aug, seed=0).losses
    assert a[0] != pytest.approx(b[0]) and all(np.isfinite(b))


def digits_bundle(tmp_path):
    """An exported bundle of a small untrained CAE for the digits."""
    genome = Genome.from_compact("c16k3-pmax-d10")
    torch.manual_seed(0)
    model = build_autoencoder(genome, (1, 8, 8))
    weights = tmp_path / "w.safetensors"
    save_file(model.state_dict(), str(weights))
    return write_bundle(tmp_path / "b", genome, (1, 8, 8), weights, {"dataset": {"name": "digits"}})


def _train(bundle, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    return subprocess.run(
        [sys.executable, "-m", "evonas.cli", "train", str(bundle.directory), *flags],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "message", "code"),
    [
        (["--finetune", "edcwrn", "--feature-beta", "1"], "--feature-beta: Input should be greater", 1),
        (["--finetune", "edcwrn", "--stop-tol", "2"], "--stop-tol", 1),
        (["--neighbours", "3"], "need --finetune", 1),
        (["--finetune", "idec", "--finetune-optimizer", "rmsprop"], "invalid choice", 2),  # a usage error
        (["--finetune", "idec", "--finetune-centres", "gmm"], "invalid choice", 2),
    ],
)
def test_nas_train_refuses_bad_finetune_options(tmp_path, flags, message, code):
    out = _train(digits_bundle(tmp_path), "--epochs", "0", *flags)
    assert out.returncode == code, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2


@pytest.mark.slow
def test_nas_train_edcwrn_reports_before_after_and_why_it_stopped(tmp_path):
    bundle = digits_bundle(tmp_path)
    out = _train(bundle, "--epochs", "3", "--finetune", "edcwrn", "--finetune-iterations", "40",
                 "--update-interval", "20", "--finetune-kmeans-init", "2", "--head", "kmeans", "--json",
                 "--no-pictures")  # fmt: skip
    assert out.returncode == 0, out.stderr
    ft = json.loads(out.stdout)["finetune"]
    assert ft["method"] == "edcwrn" and ft["iterations"] <= 40
    assert ft["stopped_because"] in ("labels settled", "iteration limit")
    assert set(ft["before"]) == set(ft["after"]) == {"acc", "nmi", "ari", "silhouette"}
    assert 0 <= ft["own_assignment"]["acc"] <= 1
    assert ft["worse"] == (ft["after"]["acc"] < ft["before"]["acc"])
    assert ft["settings"]["kernel_a"] == 1.93 and ft["settings"]["neighbours"] == 2


def test_nas_train_idec_can_start_from_the_heads_partition(tmp_path):
    out = _train(digits_bundle(tmp_path), "--epochs", "2", "--finetune", "idec", "--finetune-centres", "head",
                 "--finetune-iterations", "20", "--update-interval", "10", "--head", "kmeans", "--json",
                 "--no-pictures")  # fmt: skip
    assert out.returncode == 0, out.stderr
    ft = json.loads(out.stdout)["finetune"]
    assert ft["settings"]["centres"] == "head" and ft["iterations"] <= 20
