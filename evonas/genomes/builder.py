"""Genome -> ``torch.nn.Module``: one pure function over a registry of layer kinds.

The encoder follows the genes; the decoder is derived by mirroring the encoder:
dense back to the last feature map, an upsampling to the recorded size for every pool,
a convolution back to the previous channel count for every conv, and a sigmoid at the
end, so the output has the input's shape and lies in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from evonas.genomes.genes import BatchNormGene, ConvGene, DenseGene, PoolGene, Shape
from evonas.genomes.genome import Genome
from evonas.genomes.shapes import check_input_shape, infer_shapes

ACTIVATION_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
}
POOL_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "max": lambda: nn.MaxPool2d(2),
    "avg": lambda: nn.AvgPool2d(2),
}


class ConvAutoencoder(nn.Module):
    """An encoder to a flat latent code and a decoder back to the input's shape."""

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential, latent_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@dataclass(frozen=True)
class Site:
    """Where a gene sits: the shape before it, and whether batch norm follows it or it is first."""

    before: Shape
    batchnorm_after: bool
    first: bool


Layers = tuple[list[nn.Module], list[nn.Module]]  # (encoder layers, their decoder mirror)


def _conv(gene: ConvGene, at: Site) -> Layers:
    c_in, bn, pad = at.before[0], at.batchnorm_after, gene.kernel // 2
    encoder: list[nn.Module] = [nn.Conv2d(c_in, gene.channels, gene.kernel, padding=pad, bias=not bn)]
    if bn:
        encoder.append(nn.BatchNorm2d(gene.channels))
    encoder.append(ACTIVATION_LAYERS[gene.activation]())
    mirror: list[nn.Module] = [
        nn.Conv2d(gene.channels, c_in, gene.kernel, padding=pad, bias=at.first or not bn)
    ]
    if at.first:  # the decoder's last layer: back to [0, 1]
        mirror.append(nn.Sigmoid())
    else:
        if bn:
            mirror.append(nn.BatchNorm2d(c_in))
        mirror.append(ACTIVATION_LAYERS[gene.activation]())
    return encoder, mirror


def _batchnorm(gene: BatchNormGene, at: Site) -> Layers:
    return [], []  # built with the conv before it


def _pool(gene: PoolGene, at: Site) -> Layers:
    _, h, w = at.before
    return [POOL_LAYERS[gene.mode]()], [nn.Upsample(size=(h, w), mode="nearest")]


def _dense(gene: DenseGene, at: Site) -> Layers:
    c, h, w = at.before
    encoder: list[nn.Module] = [nn.Flatten(), nn.Linear(c * h * w, gene.latent)]
    return encoder, [nn.Linear(gene.latent, c * h * w), nn.ReLU(), nn.Unflatten(1, (c, h, w))]


# One builder per gene kind (see GENE_KINDS): the layers of the encoder and of their mirror.
BUILDERS: dict[str, Callable[[Any, Site], Layers]] = {
    "conv": _conv,
    "batchnorm": _batchnorm,
    "pool": _pool,
    "dense": _dense,
}


def build_autoencoder(genome: Genome, input_shape: tuple[int, ...]) -> ConvAutoencoder:
    """Build the CAE of ``genome`` for inputs of shape (C, H, W).

    Pure: weights are initialised from torch's global generator, so seed it
    (``torch.manual_seed``) first for a reproducible model.
    """
    layers = infer_shapes(genome, input_shape)
    before = [check_input_shape(input_shape)] + [layer.shape for layer in layers[:-1]]
    genes = genome.genes
    encoder: list[nn.Module] = []
    mirrors: list[list[nn.Module]] = []  # in encoder order, reversed at the end
    for i, gene in enumerate(genes):
        bn_after = i + 1 < len(genes) and isinstance(genes[i + 1], BatchNormGene)
        enc, mirror = BUILDERS[gene.kind](gene, Site(before[i], bn_after, i == 0))
        encoder += enc
        if enc:
            mirrors.append(mirror)
    decoder = [m for block in reversed(mirrors) for m in block]
    return ConvAutoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), genome.latent_dim)
