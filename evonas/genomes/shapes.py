"""Shape inference and validation of a genome for a given input shape, before any training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evonas.errors import InvalidGenomeError
from evonas.genomes.genes import BatchNormGene, Shape
from evonas.genomes.genome import Genome


@dataclass(frozen=True)
class LayerShape:
    """The tensor shape (C, H, W) after one gene; the dense gene's is (latent, 1, 1)."""

    index: int
    token: str
    shape: Shape


@dataclass(frozen=True)
class GenomeReport:
    """What validation learned: the shape after each gene and the autoencoder's size."""

    input_shape: Shape
    layers: tuple[LayerShape, ...]
    params: int

    @property
    def feature_shape(self) -> Shape:
        """The shape of the last feature map, the one the dense gene flattens."""
        return self.layers[-2].shape if len(self.layers) > 1 else self.input_shape


def check_input_shape(input_shape: tuple[int, ...]) -> Shape:
    """Normalise and check an input shape (C, H, W)."""
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise InvalidGenomeError(
            f"The input shape must be (channels, height, width) with positive sizes. "
            f"Got {tuple(input_shape)} instead."
        )
    c, h, w = (int(d) for d in input_shape)
    return (c, h, w)


def infer_shapes(genome: Genome, input_shape: tuple[int, ...]) -> tuple[LayerShape, ...]:
    """The shape after each gene; raises :class:`InvalidGenomeError` where a pool would
    shrink a side below 1 pixel."""
    shape = check_input_shape(input_shape)
    out: list[LayerShape] = []
    for i, gene in enumerate(genome.genes):
        try:
            shape = gene.shape_after(shape, i)
        except ValueError as exc:
            raise InvalidGenomeError(str(exc)) from None
        out.append(LayerShape(i, gene.token(), shape))
    return tuple(out)


def forward_macs(genome: Genome, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one image through the autoencoder, estimated from the shapes:
    each conv and the dense layer, twice (the decoder mirrors the encoder). Cheap, for
    ordering work by cost; not a profile."""
    before = check_input_shape(input_shape)
    macs = 0
    for gene, layer in zip(genome.genes, infer_shapes(genome, input_shape), strict=True):
        macs += gene.macs(before, layer.shape)
        before = layer.shape
    return 2 * macs


def validate_genome(
    genome: Genome, input_shape: tuple[int, ...], max_params: int | None = None
) -> GenomeReport:
    """Check that ``genome`` builds for ``input_shape`` within ``max_params`` parameters.

    The ordering rules hold for every :class:`Genome` already; this adds the checks that
    depend on the data: no collapsing spatial size, and the parameter limit.
    """
    layers = infer_shapes(genome, input_shape)
    params = count_parameters(genome, input_shape)
    if max_params is not None and params > max_params:
        raise InvalidGenomeError(
            f"Genome {genome.compact()} has {params:,} parameters, "
            f"over the limit of {max_params:,} (search_space.max_params)."
        )
    return GenomeReport(check_input_shape(input_shape), layers, params)


def count_parameters(genome: Genome, input_shape: tuple[int, ...]) -> int:
    """The number of trainable parameters of :func:`build_autoencoder`'s model, computed
    from the shapes without building it (the builder tests check the two agree)."""
    layers = infer_shapes(genome, input_shape)
    before = [check_input_shape(input_shape)] + [layer.shape for layer in layers[:-1]]
    genes = genome.genes
    return sum(
        gene.parameters(before[i], batchnorm_after=_batchnorm_after(genes, i), first=i == 0)
        for i, gene in enumerate(genes)
    )


def _batchnorm_after(genes: Sequence[object], i: int) -> bool:
    return i + 1 < len(genes) and isinstance(genes[i + 1], BatchNormGene)
