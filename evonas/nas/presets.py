"""What a search uses by default for images of a given size: the settings that carry signal.

Images of at least 16x16 (28x28 grey, 32x32 colour) get a budget in optimiser steps, so a
3,000-image set and a 60,000-image set train each candidate the same amount: 1000 steps of
batch 64 at lr 1e-3, scored on 2000 validation images, training on at most 8000 (bench/README.md,
"Fitness budget": lr 1e-3 ranked genomes with Kendall tau 0.565 where 3e-3 gave 0.333; much
shorter budgets rank barely better than chance), clustered by the umap-gmm head, the one `nas
train` scores with (bench/README.md, "Which head should the fitness use": against the NMI after
`nas train`, Kendall tau 0.545 for umap-gmm and 0.030 for k-means over 12 genomes with their
recipes, for 5.5 s more per 23 s evaluation). Smaller images (the built-in 8x8 digits) keep
the built-in defaults, which finish a search in about a minute. A setting the user gave is never
replaced.
"""

from __future__ import annotations

import math
from typing import Any

from evonas.nas.config import RunConfig
from evonas.sizes import is_large

LARGE_BUDGET: dict[str, Any] = {"steps": 1000, "batch_size": 64, "lr": 1e-3, "head": "umap-gmm"}
LARGE_DATASET: dict[str, Any] = {"val_size": 2000, "subset": 8000}


def apply_preset(
    config: RunConfig, input_shape: tuple[int, int, int], n_images: int | None = None
) -> RunConfig:
    """``config`` with the preset of ``input_shape`` filled in where the user set nothing. With
    ``n_images`` (the dataset's size) the validation split is at most a fifth of the images, so
    a small set keeps most of its images for training (3000 images: 600 for validation)."""
    if not is_large(input_shape):
        return config
    budget, dataset = config.budget, config.dataset
    given = budget.model_fields_set
    budget_updates = {k: v for k, v in LARGE_BUDGET.items() if k not in given}
    if "epochs" in given:  # epochs given: the user sized the budget that way
        budget_updates.pop("steps", None)
    dataset_updates = {k: v for k, v in LARGE_DATASET.items() if k not in dataset.model_fields_set}
    if "val_size" in dataset_updates and n_images is not None:
        dataset_updates["val_size"] = max(10, min(dataset_updates["val_size"], n_images // 5))
    return config.model_copy(
        update={
            "budget": budget.model_copy(update=budget_updates),
            "dataset": dataset.model_copy(update=dataset_updates),
        }
    )


def resolve_steps(config: RunConfig, n_train: int) -> RunConfig:
    """A budget in optimiser steps, turned into whole epochs over ``n_train`` images (at least
    the steps asked for); the run stores both."""
    budget = config.budget
    if budget.steps is None:
        return config
    per_epoch = max(1, math.ceil(n_train / budget.batch_size))
    epochs = max(1, math.ceil(budget.steps / per_epoch))
    return config.model_copy(update={"budget": budget.model_copy(update={"epochs": epochs})})
