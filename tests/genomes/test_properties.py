"""Properties of genomes over many drawn cases (hypothesis): the canonical form, the hash and the
compact form round-trip exactly, and variation only ever yields valid genomes of the space."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evonas.genomes import Genome, SearchSpace, crossover, mutate, random_genome, validate_genome
from evonas.genomes.genes import GENE_KINDS, parse_gene_token
from evonas.genomes.variation import crossover_traced, mutate_traced

SHAPES = [(1, 8, 8), (1, 16, 16), (1, 28, 28), (3, 32, 32)]
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def genomes(draw: st.DrawFn) -> tuple[Genome, SearchSpace, tuple[int, int, int]]:
    shape = draw(st.sampled_from(SHAPES))
    space = SearchSpace.preset_for(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return random_genome(space, shape, rng), space, shape


@PROFILE
@given(genomes())
def test_the_json_and_compact_forms_round_trip_with_the_same_hash(case):
    genome, _, _ = case
    again = Genome.from_json(genome.canonical_json())
    assert again == genome and again.hash == genome.hash
    assert again.canonical_json() == genome.canonical_json()
    compact = Genome.from_compact(genome.compact())
    assert compact == genome and compact.hash == genome.hash and compact.compact() == genome.compact()


@PROFILE
@given(genomes(), st.integers(0, 2**32 - 1))
def test_mutation_yields_a_valid_genome_of_the_space_that_differs(case, seed):
    genome, space, shape = case
    child, op = mutate(genome, space, shape, np.random.default_rng(seed))
    validate_genome(child, shape, space.max_params)
    space.check(child)
    assert (child != genome) or op == "none"


@PROFILE
@given(genomes(), genomes(), st.integers(0, 2**32 - 1))
def test_crossover_yields_valid_genomes_of_the_space(a, b, seed):
    genome_a, space, shape = a
    genome_b = random_genome(space, shape, np.random.default_rng(seed)) if b[2] != shape else b[0]
    for child in crossover(genome_a, genome_b, space, shape, np.random.default_rng(seed)):
        validate_genome(child, shape, space.max_params)
        space.check(child)


@given(st.integers(1, 4096), st.sampled_from([3, 5]), st.sampled_from(["relu", "elu", "leaky_relu", "tanh"]))
def test_every_conv_token_parses_back_to_its_gene(channels, kernel, activation):
    gene = GENE_KINDS["conv"](channels=channels, kernel=kernel, activation=activation)
    assert parse_gene_token(gene.token()) == gene


@PROFILE
@given(genomes(), st.integers(0, 2**32 - 1))
def test_a_traced_mutation_is_the_same_mutation_and_names_where_each_gene_came_from(case, seed):
    genome, space, shape = case
    child, op = mutate(genome, space, shape, np.random.default_rng(seed))
    traced, traced_op, origins = mutate_traced(genome, space, shape, np.random.default_rng(seed))
    assert (traced, traced_op) == (child, op) and len(origins) == len(child.genes)
    for gene, origin in zip(child.genes, origins, strict=True):
        if origin is None:  # inserted by "add"
            assert op == "add"
            continue
        assert origin.parent == 0
        parent_gene = genome.genes[origin.index]
        if origin.changed:
            assert op == "change" and gene != parent_gene and gene.kind == parent_gene.kind
        else:
            assert gene == parent_gene
    if op in ("recipe", "none", "swap", "remove"):  # nothing new: every gene is one of the parent's
        assert all(o is not None and not o.changed for o in origins)
    if op in ("recipe", "none"):
        assert [o.index for o in origins] == list(range(len(genome.genes)))  # every tensor inherits


@PROFILE
@given(genomes(), st.integers(0, 2**32 - 1))
def test_a_traced_crossover_is_the_same_crossover_and_every_gene_is_a_parents(case, seed):
    genome_a, space, shape = case
    genome_b = random_genome(space, shape, np.random.default_rng(seed))
    plain = crossover(genome_a, genome_b, space, shape, np.random.default_rng(seed))
    traced = crossover_traced(genome_a, genome_b, space, shape, np.random.default_rng(seed))
    assert tuple(child for child, _ in traced) == plain
    parents = (genome_a, genome_b)
    for child, origins in traced:
        assert len(origins) == len(child.genes)
        for gene, origin in zip(child.genes, origins, strict=True):
            assert origin is not None and not origin.changed
            assert parents[origin.parent].genes[origin.index] == gene
