"""Genomes: the gene encoding, its validation, variation operators and the model builder.

Depends on nothing of evonas above its base modules (errors, values). The model builder (torch)
is imported on first use, so that reading genomes (the dashboard, ``nas status``) needs no torch.
"""

from __future__ import annotations

from evonas.genomes.genes import BatchNormGene, ConvGene, DenseGene, Gene, PoolGene
from evonas.genomes.genome import Genome
from evonas.genomes.recipe import Recipe
from evonas.genomes.shapes import (
    GenomeReport,
    LayerShape,
    count_parameters,
    forward_macs,
    infer_shapes,
    validate_genome,
)
from evonas.genomes.space import SearchSpace
from evonas.genomes.variation import crossover, mutate, random_genome, repair
from evonas.lazy import lazy_exports

__all__ = [
    "BatchNormGene",
    "ConvAutoencoder",
    "ConvGene",
    "DenseGene",
    "Gene",
    "Genome",
    "GenomeReport",
    "LayerShape",
    "PoolGene",
    "Recipe",
    "SearchSpace",
    "build_autoencoder",
    "count_parameters",
    "crossover",
    "forward_macs",
    "infer_shapes",
    "mutate",
    "random_genome",
    "repair",
    "validate_genome",
]


# the model builder imports torch: on first use
__getattr__ = lazy_exports(
    "evonas.genomes",
    {"ConvAutoencoder": "evonas.genomes.builder", "build_autoencoder": "evonas.genomes.builder"},
)
