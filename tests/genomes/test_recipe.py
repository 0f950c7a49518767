"""Recipe genes: part of the genome's identity, evolved by mutation and crossover, absent from
genomes stored before recipes (whose canonical form and hash stay as they were)."""

import json

import numpy as np
import pytest

from evonas.errors import InvalidGenomeError
from evonas.genomes import Genome, Recipe, SearchSpace, crossover, mutate, random_genome

SHAPE = (1, 28, 28)
SPACE = SearchSpace.preset_for(SHAPE)


def test_a_genome_without_a_recipe_keeps_its_old_canonical_form_and_hash():
    g = Genome.from_compact("c32k3-bn-pmax-d10")
    assert "recipe" not in json.loads(g.canonical_json())
    assert g.hash == "e5c2f219d3cb1d81"  # as evonas computed it before recipes existed
    assert Genome.from_json(g.canonical_json()) == g


def test_the_recipe_is_in_the_canonical_form_the_compact_form_and_the_hash():
    plain = Genome.from_compact("c32k3-bn-pmax-d10")
    tuned = Genome.from_compact("c32k3-bn-pmax-d10+aug:medium,noise:0.1,lr:0.001")
    assert tuned.recipe == Recipe(augment="medium", noise=0.1, lr=1e-3)
    assert tuned.hash != plain.hash
    assert tuned.compact() == "c32k3-bn-pmax-d10+aug:medium,noise:0.1,lr:0.001"
    assert Genome.from_compact(tuned.compact()) == tuned
    assert Genome.from_json(tuned.canonical_json()).hash == tuned.hash
    other_lr = Genome.from_compact("c32k3-bn-pmax-d10+aug:medium,noise:0.1,lr:0.003")
    assert other_lr.hash != tuned.hash  # a cached evaluation is only taken for the same recipe


@pytest.mark.parametrize("text", ["c8k3-d4+aug:huge", "c8k3-d4+noise:2", "c8k3-d4+lr:0", "c8k3-d4+size:3"])
def test_a_bad_recipe_is_refused_with_its_text(text):
    with pytest.raises(InvalidGenomeError, match="recipe"):
        Genome.from_compact(text)


def test_random_genomes_carry_a_recipe_from_the_space_unless_recipes_are_off():
    rng = np.random.default_rng(0)
    genomes = [random_genome(SPACE, SHAPE, rng) for _ in range(30)]
    assert all(g.recipe is not None for g in genomes)
    assert {g.recipe.augment for g in genomes} <= set(SPACE.augments)
    assert len({g.recipe for g in genomes}) > 5
    off = SPACE.model_copy(update={"recipes": False})
    assert random_genome(off, SHAPE, np.random.default_rng(0)).recipe is None


def test_recipes_off_draw_exactly_the_genomes_of_before():
    # stored runs resume with recipes off: their random stream must not move
    off = SPACE.model_copy(update={"recipes": False})
    a = [random_genome(off, SHAPE, np.random.default_rng(s)).compact() for s in range(5)]
    assert a == [random_genome(off, SHAPE, np.random.default_rng(s)).compact() for s in range(5)] and all(
        "+" not in c for c in a
    )


def test_mutation_evolves_the_recipe_too():
    rng = np.random.default_rng(1)
    g = Genome.from_compact("c32k3-bn-pmax-c64k3-pmax-d10+aug:weak,noise:0.1,lr:0.001")
    ops = {}
    for _ in range(200):
        child, op = mutate(g, SPACE, SHAPE, rng)
        ops[op] = child
    assert "recipe" in ops
    changed = ops["recipe"]
    assert changed.genes == g.genes and changed.recipe != g.recipe
    assert all(c.recipe == g.recipe for op, c in ops.items() if op != "recipe")  # layer ops keep it


def test_crossover_mixes_the_parents_recipes_field_by_field():
    rng = np.random.default_rng(2)
    a = Genome.from_compact("c32k3-pmax-d10+aug:none,noise:0,lr:0.0003")
    b = Genome.from_compact("c64k5-pmax-c32k3-d16+aug:strong,noise:0.3,lr:0.003")
    seen = set()
    for _ in range(50):
        for child in crossover(a, b, SPACE, SHAPE, rng):
            r = child.recipe
            assert r.augment in ("none", "strong") and r.noise in (0.0, 0.3) and r.lr in (3e-4, 3e-3)
            seen.add((r.augment, r.noise, r.lr))
    assert len(seen) > 2  # not just the parents' own recipes
