"""The preset of a data set's image size fills what the user did not set, and nothing else."""

import pytest

from evonas.nas.config import build_config
from evonas.nas.presets import apply_preset, resolve_steps


def test_large_images_get_a_budget_in_steps_and_the_recommended_splits():
    config = apply_preset(build_config(None, {}), (1, 28, 28))
    assert config.budget.steps == 1000 and config.budget.lr == 1e-3 and config.budget.batch_size == 64
    assert config.dataset.val_size == 2000 and config.dataset.subset == 8000
    assert config.budget.head == "umap-gmm"  # the head nas train scores with ranks genomes better


def test_small_images_keep_the_built_in_defaults():
    config = build_config(None, {})
    assert apply_preset(config, (1, 8, 8)) == config


def test_what_the_user_set_is_never_replaced():
    given = build_config(
        None, {"budget": {"epochs": 3, "lr": 0.01, "head": "kmeans"}, "dataset": {"val_size": 500}}
    )
    config = apply_preset(given, (3, 32, 32))
    assert config.budget.steps is None and config.budget.epochs == 3 and config.budget.lr == 0.01
    assert config.budget.head == "kmeans"
    assert config.dataset.val_size == 500 and config.dataset.subset == 8000


def test_steps_become_whole_epochs_over_the_training_images():
    config = build_config(None, {"budget": {"steps": 1000, "batch_size": 64}})
    assert resolve_steps(config, 8000).budget.epochs == 8  # 125 steps an epoch
    assert resolve_steps(config, 3000).budget.epochs == 22  # 47 steps an epoch: at least 1000 steps
    assert resolve_steps(config, 200_000).budget.epochs == 1
    assert resolve_steps(build_config(None, {}), 8000).budget.epochs == 10  # no steps: epochs stand


def test_large_images_search_a_space_a_cpu_can_afford():
    from evonas.genomes import SearchSpace

    space = SearchSpace.preset_for((1, 28, 28))
    assert (space.max_channels, space.max_convs, space.max_latent, space.max_params) == (64, 4, 64, 400_000)
    assert SearchSpace.preset_for((1, 8, 8)).max_channels == 32
    # the compute cap holds for every drawn and every bred genome
    import itertools

    import numpy as np

    from evonas.genomes import random_genome
    from evonas.genomes.shapes import forward_macs
    from evonas.genomes.variation import crossover, mutate

    rng = np.random.default_rng(0)
    drawn = [random_genome(space, (1, 28, 28), rng) for _ in range(40)]
    bred = [mutate(g, space, (1, 28, 28), rng)[0] for g in drawn] + [
        crossover(a, b, space, (1, 28, 28), rng)[0] for a, b in itertools.pairwise(drawn)
    ]
    assert all(forward_macs(g, (1, 28, 28)) <= 16_000_000 for g in drawn + bred)


def test_a_small_set_keeps_most_of_its_images_for_training():
    config = apply_preset(build_config(None, {}), (1, 28, 28), n_images=3000)
    assert config.dataset.val_size == 600
    assert apply_preset(build_config(None, {}), (1, 28, 28), n_images=70_000).dataset.val_size == 2000
    given = build_config(None, {"dataset": {"val_size": 1500}})
    assert apply_preset(given, (1, 28, 28), n_images=3000).dataset.val_size == 1500  # the user's wins


@pytest.mark.parametrize(("side", "large"), [(8, False), (15, False), (16, True), (28, True)])
def test_one_rule_decides_large_images_for_the_preset_the_space_and_the_memory_format(side, large):
    """16x16 (USPS) is large everywhere: the training budget, the search space, channels_last."""
    from evonas.genomes import SearchSpace
    from evonas.learn import prefers_channels_last
    from evonas.nas.config import RunConfig
    from evonas.nas.presets import apply_preset

    shape = (1, side, side)
    preset = apply_preset(RunConfig(), shape)
    assert (preset.budget.steps is not None) is large
    assert (SearchSpace.preset_for(shape).max_convs == 4) is large
    assert prefers_channels_last(shape) is large
    assert RunConfig().budget.use_channels_last(shape) is large
