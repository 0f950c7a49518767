"""Learning steps shared by the search's fitness and by ``nas train``: training an autoencoder on
reconstruction, encoding, clustering the codes and scoring a partition. Depends on nothing else
of evonas, so both ``workers`` and ``training`` build on it."""

from evonas.learn.augment import Augmentation
from evonas.learn.clustering import fit_kmeans, sample_index
from evonas.learn.heads import (
    HEADS,
    Head,
    Partition,
    assign,
    cluster_codes,
    head_arrays,
    label_free_score,
)
from evonas.learn.reconstruction import (
    DeadlinePassed,
    TrainingDiverged,
    prefers_channels_last,
    reconstruct_and_encode,
    state_dict_bytes,
    train_reconstruction,
)
from evonas.learn.scores import cluster_accuracy, clustering_scores, hungarian_mapping

__all__ = [
    "HEADS",
    "Head",
    "Partition",
    "assign",
    "head_arrays",
    "cluster_codes",
    "label_free_score",
    "Augmentation",
    "DeadlinePassed",
    "TrainingDiverged",
    "cluster_accuracy",
    "clustering_scores",
    "fit_kmeans",
    "hungarian_mapping",
    "prefers_channels_last",
    "sample_index",
    "reconstruct_and_encode",
    "state_dict_bytes",
    "train_reconstruction",
]
