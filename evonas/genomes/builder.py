"""Genome -> ``torch.nn.Module``: one pure function over a registry of layer kinds.

The encoder follows the genes; the decoder is derived by mirroring the encoder:
dense back to the last feature map, an upsampling to the recorded size for every pool,
a convolution back to the previous channel count for every conv, and a sigmoid at the
end, so the output has the input's shape and lies in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from evonas.genomes.genes import BatchNormGene, ConvGene, DenseGene, PoolGene
from evonas.genomes.genome import Genome
from evonas.genomes.shapes import infer_shapes

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


def build_autoencoder(genome: Genome, input_shape: tuple[int, ...]) -> ConvAutoencoder:
    """Build the CAE of ``genome`` for inputs of shape (C, H, W).

    Pure: weights are initialised from torch's global generator, so seed it
    (``torch.manual_seed``) first for a reproducible model.
    """
    layers = infer_shapes(genome, input_shape)
    shapes_in = [tuple(input_shape)] + [layer.shape for layer in layers[:-1]]
    genes = genome.genes
    followed_by_bn = [
        i + 1 < len(genes) and isinstance(genes[i + 1], BatchNormGene) for i in range(len(genes))
    ]
    first_conv = 0  # genes[0] is always a conv

    encoder: list[nn.Module] = []
    decoder_blocks: list[list[nn.Module]] = []  # in encoder order, reversed at the end
    for i, gene in enumerate(genes):
        c_in = shapes_in[i][0]
        if isinstance(gene, ConvGene):
            bn = followed_by_bn[i]
            encoder.append(nn.Conv2d(c_in, gene.channels, gene.kernel, padding=gene.kernel // 2, bias=not bn))
            if bn:
                encoder.append(nn.BatchNorm2d(gene.channels))
            encoder.append(ACTIVATION_LAYERS[gene.activation]())
            last = i == first_conv
            block: list[nn.Module] = [
                nn.Conv2d(gene.channels, c_in, gene.kernel, padding=gene.kernel // 2, bias=last or not bn)
            ]
            if last:
                block.append(nn.Sigmoid())
            else:
                if bn:
                    block.append(nn.BatchNorm2d(c_in))
                block.append(ACTIVATION_LAYERS[gene.activation]())
            decoder_blocks.append(block)
        elif isinstance(gene, PoolGene):
            encoder.append(POOL_LAYERS[gene.mode]())
            _, h, w = shapes_in[i]
            decoder_blocks.append([nn.Upsample(size=(h, w), mode="nearest")])
        elif isinstance(gene, DenseGene):
            c, h, w = shapes_in[i]
            encoder += [nn.Flatten(), nn.Linear(c * h * w, gene.latent)]
            decoder_blocks.append([nn.Linear(gene.latent, c * h * w), nn.ReLU(), nn.Unflatten(1, (c, h, w))])
        # a batchnorm gene is built with the conv before it

    decoder = [m for block in reversed(decoder_blocks) for m in block]
    return ConvAutoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), genome.latent_dim)
