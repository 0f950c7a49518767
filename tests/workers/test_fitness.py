"""Real training on the built-in digits: determinism, the gate, and failures as results."""

import math

import numpy as np
import pytest
from sklearn.cluster import KMeans

from evonas.genomes import Genome
from evonas.learn import clustering_scores
from evonas.workers import Budget, FitnessData, Rung, evaluate_genome

from ..conftest import TINY_BUDGET

SMALL = Genome.from_compact("c16k3-pmax-d10")


def test_evaluation_is_deterministic_for_a_seed(digits_data):
    a = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=3, threads=1)
    b = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=3, threads=1)
    c = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=4, threads=1)
    assert a.status == "ok", a.error
    assert a.metrics == b.metrics
    assert a.metrics.recon_loss != c.metrics.recon_loss


def test_metrics_are_measured(digits_data):
    r = evaluate_genome(
        SMALL.canonical_json(), digits_data, Budget(epochs=8, batch_size=16), seed=0, threads=1
    )
    assert r.status == "ok" and r.error is None
    assert 0.0 < r.metrics.acc <= 1.0 and 0.0 < r.metrics.nmi <= 1.0 and -1.0 <= r.metrics.ari <= 1.0
    assert r.metrics.recon_loss < 0.9 * r.metrics.baseline_loss  # passed the gate
    assert r.metrics.params == 9 * 16 * 2 + 16 + 1 + 16 * 16 * 10 * 2 + 10 + 256
    assert r.seconds > 0 and r.device == "cpu"
    assert r.head_seconds is not None and 0 < r.head_seconds < r.seconds  # the head's part of it
    # the CAE has learned something: clearly better than chance (0.1) on 10 classes
    assert r.metrics.acc > 0.4


def test_cluster_scores_match_kmeans_on_raw_pixels_when_latent_is_the_image(digits_data):
    # sanity check of the scoring path against a hand-run k-means
    x = digits_data.x_val.reshape(len(digits_data.x_val), -1)
    labels = KMeans(10, n_init=4, random_state=0).fit_predict(x)
    assert clustering_scores(digits_data.y_val, labels)["acc"] > 0.5


def test_a_model_that_does_not_learn_fails_the_gate(digits_data):
    r = evaluate_genome(SMALL, digits_data, TINY_BUDGET.model_copy(update={"gate_ratio": 0.01}), seed=0)
    assert r.status == "failed"
    assert r.error.startswith("gate:")
    assert r.metrics.acc is None and r.metrics.nmi is None  # never stored as a measured fitness
    assert r.metrics.recon_loss is not None and r.metrics.baseline_loss is not None


def test_nan_loss_is_a_failure_not_a_score(digits_data):
    x = digits_data.x_train.copy()
    x[0, 0, 0, 0] = np.nan
    bad = FitnessData(x, digits_data.x_val, digits_data.y_val, 10)
    r = evaluate_genome(SMALL, bad, TINY_BUDGET, seed=0)
    assert r.status == "failed" and "diverged" in r.error
    assert r.metrics.acc is None


def test_a_genome_invalid_for_the_data_is_a_failure(digits_data):
    g = Genome.from_compact("c8k3-pmax-pmax-pmax-pmax-d4")  # collapses 8x8
    r = evaluate_genome(g, digits_data, TINY_BUDGET, seed=0)
    assert r.status == "failed" and "collapse" in r.error and r.metrics.acc is None


def test_parameter_limit_from_the_budget(digits_data):
    r = evaluate_genome(SMALL, digits_data, TINY_BUDGET.model_copy(update={"max_params": 10}), seed=0)
    assert r.status == "failed" and "over the limit" in r.error


def test_any_exception_becomes_a_failed_result(digits_data):
    r = evaluate_genome("{not json", digits_data, TINY_BUDGET, seed=0)
    assert r.status == "failed" and "Invalid genome JSON" in r.error
    assert math.isfinite(r.seconds)


@pytest.mark.parametrize("field", ["epochs", "batch_size"])
def test_budget_rejects_non_positive_values(field):
    with pytest.raises(ValueError, match=field):
        Budget(**{field: 0})


def test_channels_last_is_automatic_for_larger_images_and_trains_the_same_model(digits_data):
    assert not Budget().use_channels_last((1, 8, 8)) and Budget().use_channels_last((1, 28, 28))
    assert Budget(channels_last=True).use_channels_last((1, 8, 8))
    a = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=1, threads=1)
    b = evaluate_genome(
        SMALL, digits_data, TINY_BUDGET.model_copy(update={"channels_last": True}), seed=1, threads=1
    )
    assert a.status == b.status == "ok"
    assert b.metrics.recon_loss == pytest.approx(
        a.metrics.recon_loss, rel=0.05
    )  # same training, another memory layout


def test_the_pruning_checkpoints_do_not_change_a_full_evaluation(digits_data):
    plain = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=3, threads=1)
    rungs = (Rung(epoch=1), Rung(epoch=3))
    checked = evaluate_genome(SMALL, digits_data, TINY_BUDGET, seed=3, threads=1, rungs=rungs)
    assert plain.status == checked.status == "ok"
    assert checked.metrics == plain.metrics
    assert plain.rung_acc is None and plain.rung_scores == {}
    assert set(checked.rung_scores) == {1, 3} and all(0.0 < v <= 1.0 for v in checked.rung_scores.values())
    assert checked.rung_acc == checked.rung_scores[3]  # the last checkpoint reached
    assert checked.pruned_at is None


def test_below_the_threshold_at_a_rung_is_pruned_there_with_its_figures(digits_data):
    full = evaluate_genome(
        SMALL, digits_data, TINY_BUDGET, seed=3, threads=1, rungs=(Rung(epoch=1), Rung(epoch=3))
    )
    first, second = full.rung_scores[1], full.rung_scores[3]
    cut = evaluate_genome(
        SMALL, digits_data, TINY_BUDGET, seed=3, threads=1,
        rungs=(Rung(epoch=1, prune_below=first), Rung(epoch=3, prune_below=second + 1e-9)),
    )  # fmt: skip
    assert cut.status == "pruned" and cut.pruned_at == 3  # passed the first rung, stopped at the second
    assert cut.rung_scores == full.rung_scores
    assert cut.metrics.acc == cut.rung_acc == second  # the figures it reached at that checkpoint
    assert cut.metrics.recon_loss is not None and cut.metrics.recon_loss > full.metrics.recon_loss
    assert "pruned after epoch 3/5" in cut.error
    assert cut.head_seconds is not None and 0 < cut.head_seconds < cut.seconds  # both rungs' clustering
    early = evaluate_genome(
        SMALL, digits_data, TINY_BUDGET, seed=3, threads=1, rungs=(Rung(epoch=1, prune_below=first + 1e-9),)
    )
    assert early.status == "pruned" and early.pruned_at == 1 and early.rung_scores == {1: first}
    kept = evaluate_genome(
        SMALL, digits_data, TINY_BUDGET, seed=3, threads=1,
        rungs=(Rung(epoch=1, prune_below=first), Rung(epoch=3, prune_below=second)),
    )  # fmt: skip
    assert kept.status == "ok" and kept.metrics == full.metrics  # at the threshold is not below it


def test_without_labels_the_objective_is_the_silhouette(digits_data):
    unlabelled = FitnessData(digits_data.x_train, digits_data.x_val, None, 10)
    r = evaluate_genome(SMALL, unlabelled, TINY_BUDGET, seed=3, threads=1)
    assert r.status == "ok", r.error
    assert r.metrics.acc is None and r.metrics.nmi is None and r.metrics.ari is None
    assert -1.0 <= r.metrics.silhouette <= 1.0 and r.metrics.silhouette > 0.05  # a real partition, not noise
