"""The gene-kind registry: every kind decides its token, label, colour, shape, cost and layers in
one place, and every consumer (the builder, the dashboard, the report) goes through it."""

from __future__ import annotations

import typing

import torch

from evonas.genomes import Genome, build_autoencoder, count_parameters, forward_macs
from evonas.genomes.builder import BUILDERS
from evonas.genomes.genes import GENE_KINDS, Gene, parse_gene_token

EXAMPLES = {"conv": "c16k5e", "batchnorm": "bn", "pool": "pavg", "dense": "d12"}


def test_the_registry_holds_every_kind_of_the_genome_union_and_a_builder_for_each():
    union = typing.get_args(typing.get_args(Gene)[0])
    assert set(GENE_KINDS.values()) == set(union)
    assert set(BUILDERS) == set(GENE_KINDS) == set(EXAMPLES)


def test_each_kind_parses_labels_and_colours_itself():
    for kind, token in EXAMPLES.items():
        gene = parse_gene_token(token)
        assert gene.kind == kind and gene.token() == token
        assert gene.label() and gene.COLOUR.startswith("#")
    assert parse_gene_token("c16k5e").label() == "conv 16 5x5 elu"
    assert parse_gene_token("d12").label() == "code 12"


def test_the_counted_parameters_and_macs_agree_with_the_built_model():
    shape = (1, 28, 28)
    genome = Genome.from_compact("c16k3-bn-pmax-c8k5e-bn-pavg-c4k3t-d10")
    model = build_autoencoder(genome, shape)
    assert count_parameters(genome, shape) == sum(p.numel() for p in model.parameters())
    # 28x28x1->16 3x3, 14x14x16->8 5x5, 7x7x8->4 3x3, 4*7*7->10; twice for the mirror
    expected = 28 * 28 * 16 * 9 + 14 * 14 * 16 * 8 * 25 + 7 * 7 * 8 * 4 * 9 + 4 * 7 * 7 * 10
    assert forward_macs(genome, shape) == 2 * expected
    x = torch.rand(2, *shape)
    assert model(x).shape == x.shape and model.encode(x).shape == (2, 10)
