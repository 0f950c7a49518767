"""Genomes: the gene encoding, its validation, variation operators and the model builder.

Depends on nothing else of evonas but its errors.
"""

from evonas.genomes.builder import ConvAutoencoder, build_autoencoder
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
