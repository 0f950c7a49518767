"""Operators always yield valid genomes inside the search space: a property test over many draws."""

import numpy as np
import pytest

from evonas.genomes import (
    BatchNormGene,
    ConvGene,
    Genome,
    PoolGene,
    SearchSpace,
    crossover,
    mutate,
    random_genome,
    repair,
    validate_genome,
)

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


def _assert_valid(g: Genome, space: SearchSpace, shape) -> None:
    assert isinstance(g.genes[0], ConvGene)
    space.check(g)
    validate_genome(g, shape, space.max_params)


@pytest.mark.parametrize("shape", SHAPES)
def test_thousands_of_seeded_draws_stay_valid(shape):
    space = SearchSpace.preset_for(shape)
    rng = np.random.default_rng(12345)
    pop = [random_genome(space, shape, rng) for _ in range(40)]
    ops = set()
    for k in range(700):  # x3 shapes x (mutate + 2 crossover children) = 6,300 checked genomes
        a, b = pop[int(rng.integers(len(pop)))], pop[int(rng.integers(len(pop)))]
        child, op = mutate(a, space, shape, rng)
        c1, c2 = crossover(a, b, space, shape, rng)
        for g in (child, c1, c2):
            _assert_valid(g, space, shape)
        ops.add(op)
        pop[k % len(pop)] = child
    assert {"add", "remove", "change", "swap"} <= ops


def test_operators_are_deterministic_for_a_seed():
    space = SearchSpace.preset_for((1, 8, 8))

    def draw(seed):
        rng = np.random.default_rng(seed)
        a, b = random_genome(space, (1, 8, 8), rng), random_genome(space, (1, 8, 8), rng)
        return a, b, mutate(a, space, (1, 8, 8), rng), crossover(a, b, space, (1, 8, 8), rng)

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_mutation_changes_the_genome():
    space = SearchSpace.preset_for((1, 28, 28))
    rng = np.random.default_rng(0)
    g = random_genome(space, (1, 28, 28), rng)
    changed = sum(mutate(g, space, (1, 28, 28), rng)[0] != g for _ in range(200))
    assert changed == 200


def test_crossover_is_cut_and_splice():
    space = SearchSpace()
    a = Genome.from_compact("c8k3-c16k3-c32k3-d4")
    b = Genome.from_compact("c64k5e-pavg-c128k5e-pmax-d99")
    rng = np.random.default_rng(3)
    seen_lengths = set()
    for _ in range(100):
        c1, c2 = crossover(a, b, space, (1, 28, 28), rng)
        # each child keeps its own parent's first gene and latent, the tail comes from the other
        assert c1.genes[0] == a.genes[0] and c1.dense == a.dense
        assert c2.genes[0] == b.genes[0] and c2.dense == b.dense
        tail = [t for t in c1.compact().split("-")[1:-1]]
        assert all(t in a.compact().split("-") or t in b.compact().split("-") for t in tail)
        seen_lengths.add((len(c1.genes), len(c2.genes)))
    assert len(seen_lengths) > 3  # the cut falls at different places in each parent


def test_repair_drops_what_breaks_the_rules():
    space = SearchSpace(max_convs=2)
    genes = [
        PoolGene(), ConvGene(channels=8), PoolGene(), BatchNormGene(), ConvGene(channels=8),
        BatchNormGene(), BatchNormGene(), PoolGene(), PoolGene(), PoolGene(), ConvGene(channels=8),
        Genome.from_compact("c8k3-d4").dense,
    ]  # fmt: skip
    fixed = Genome.of(repair(genes, space, (1, 8, 8)))
    assert fixed.compact() == "c8k3-pmax-c8k3-bn-pmax-pmax-d4"


def test_unsatisfiable_space_is_a_clear_error():
    space = SearchSpace(min_convs=3, max_convs=3, min_channels=128, max_params=10)
    with pytest.raises(ValueError, match="Could not draw a valid genome"):
        random_genome(space, (1, 8, 8), np.random.default_rng(0), max_tries=20)
