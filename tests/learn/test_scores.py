import numpy as np
import pytest

from evonas.learn import cluster_accuracy, clustering_scores, hungarian_mapping


def test_a_permuted_labelling_scores_one():
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    perm = np.array([2, 3, 0, 1])
    scores = clustering_scores(y, perm[y])
    assert scores == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_hand_computed_accuracy():
    # clusters: A = {0,0,1}, B = {1,1,2}, C = {2,0}; best matching A->0, B->1, C->2 gets 2+2+1 = 5 of 8
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    y_pred = np.array([5, 5, 5, 7, 7, 7, 9, 9])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 8)
    assert hungarian_mapping(y_true, y_pred) == {0: 0, 1: 1, 2: 2}


def test_matching_is_one_to_one_not_majority_vote():
    # majority vote would map both clusters to class 0 and score 1.0 on the first 3 samples
    y_true = np.array([0, 0, 0, 0, 1])
    y_pred = np.array([0, 0, 1, 1, 1])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(3 / 5)


def test_more_clusters_than_classes():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 2, 3])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(0.5)


def test_single_cluster_scores_zero_nmi_and_ari():
    y_true = np.array([0, 1, 2, 0, 1, 2])
    scores = clustering_scores(y_true, np.zeros(6, dtype=int))
    assert scores["acc"] == pytest.approx(2 / 6)
    assert scores["nmi"] == pytest.approx(0.0) and scores["ari"] == pytest.approx(0.0)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in length"):
        cluster_accuracy(np.zeros(3), np.zeros(4))
