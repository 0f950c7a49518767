"""Gene kinds: immutable, validated values that a genome is a sequence of.

A genome is ``conv (conv | batchnorm | pool)* dense``. Each gene is a frozen pydantic
model; :data:`Gene` is their discriminated union on ``kind`` so that a genome's JSON
form round-trips exactly.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal["relu", "elu", "leaky_relu", "tanh"]
ACTIVATIONS: tuple[Activation, ...] = ("relu", "elu", "leaky_relu", "tanh")
PoolMode = Literal["max", "avg"]
POOL_MODES: tuple[PoolMode, ...] = ("max", "avg")
Kernel = Literal[3, 5]
KERNELS: tuple[Kernel, ...] = (3, 5)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

_ACT_CODES = {"relu": "", "elu": "e", "leaky_relu": "l", "tanh": "t"}
_CODE_ACTS = {code: act for act, code in _ACT_CODES.items()}

Shape = tuple[int, int, int]  # (channels, height, width)


class _GeneKind(BaseModel):
    """What every gene kind decides for itself, in one place per kind: its compact token and the
    parsing of it, its label and colour in the report and the dashboard, the shape after it, its
    multiply-accumulates and its parameters (the torch layers it builds are in
    :mod:`evonas.genomes.builder`, one builder per kind)."""

    model_config = _FROZEN
    COLOUR: ClassVar[str]  # its box in the report's layer diagram
    PATTERN: ClassVar[str]  # the regular expression of its compact token

    def token(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_match(cls, m: re.Match[str]) -> Self:
        raise NotImplementedError

    def label(self) -> str:
        """A short label for people (``conv 16 3x3 relu``)."""
        raise NotImplementedError

    def shape_after(self, shape: Shape, index: int) -> Shape:
        """The feature map's shape after this gene (gene ``index``) given the one before it;
        ``ValueError`` where the gene does not fit it."""
        return shape

    def macs(self, before: Shape, after: Shape) -> int:
        """Multiply-accumulates of one image through the encoder's layer (the decoder's mirror costs
        the same)."""
        return 0

    def parameters(self, before: Shape, *, batchnorm_after: bool, first: bool) -> int:
        """Trainable parameters of this gene's encoder layer and its decoder mirror."""
        return 0


class ConvGene(_GeneKind):
    """A 'same'-padded convolution followed by its activation."""

    COLOUR = "#8fb8de"
    PATTERN = r"c(\d+)k([35])([elt]?)"
    kind: Literal["conv"] = "conv"
    channels: int = Field(ge=1, le=4096)
    kernel: Kernel = 3
    activation: Activation = "relu"

    def token(self) -> str:
        return f"c{self.channels}k{self.kernel}{_ACT_CODES[self.activation]}"

    @classmethod
    def from_match(cls, m: re.Match[str]) -> Self:
        return cls(channels=int(m.group(1)), kernel=int(m.group(2)), activation=_CODE_ACTS[m.group(3)])  # type: ignore[arg-type]

    def label(self) -> str:
        return f"conv {self.channels} {self.kernel}x{self.kernel} {self.activation}"

    def shape_after(self, shape: Shape, index: int) -> Shape:
        return (self.channels, shape[1], shape[2])

    def macs(self, before: Shape, after: Shape) -> int:
        return before[0] * after[0] * self.kernel * self.kernel * after[1] * after[2]

    def parameters(self, before: Shape, *, batchnorm_after: bool, first: bool) -> int:
        c_in = before[0]
        weights = 2 * c_in * self.channels * self.kernel**2  # encoder conv + its mirror
        encoder_extra = 2 * self.channels if batchnorm_after else self.channels  # BN affine or bias
        decoder_extra = c_in if first or not batchnorm_after else 2 * c_in
        return weights + encoder_extra + decoder_extra


class BatchNormGene(_GeneKind):
    """Batch normalisation of the convolution just before it (applied before its activation)."""

    COLOUR = "#f2d388"
    PATTERN = r"bn"
    kind: Literal["batchnorm"] = "batchnorm"

    def token(self) -> str:
        return "bn"

    @classmethod
    def from_match(cls, m: re.Match[str]) -> Self:
        return cls()

    def label(self) -> str:
        return "batchnorm"


class PoolGene(_GeneKind):
    """A 2x2 pooling with stride 2 (floor), halving height and width."""

    COLOUR = "#a8d5a2"
    PATTERN = r"p(max|avg)"
    kind: Literal["pool"] = "pool"
    mode: PoolMode = "max"

    def token(self) -> str:
        return f"p{self.mode}"

    @classmethod
    def from_match(cls, m: re.Match[str]) -> Self:
        return cls(mode=m.group(1))  # type: ignore[arg-type]

    def label(self) -> str:
        return f"{self.mode} pool"

    def shape_after(self, shape: Shape, index: int) -> Shape:
        c, h, w = shape
        if h < 2 or w < 2:
            raise ValueError(
                f"Gene {index} ({self.token()}): the feature map is {h}x{w} here, "
                "too small for a 2x2 pool (the spatial size would collapse)."
            )
        return (c, h // 2, w // 2)


class DenseGene(_GeneKind):
    """The final linear layer from the flattened feature map to the latent code."""

    COLOUR = "#e39b9b"
    PATTERN = r"d(\d+)"
    kind: Literal["dense"] = "dense"
    latent: int = Field(ge=1, le=65536)

    def token(self) -> str:
        return f"d{self.latent}"

    @classmethod
    def from_match(cls, m: re.Match[str]) -> Self:
        return cls(latent=int(m.group(1)))

    def label(self) -> str:
        return f"code {self.latent}"

    def shape_after(self, shape: Shape, index: int) -> Shape:
        return (self.latent, 1, 1)

    def macs(self, before: Shape, after: Shape) -> int:
        return before[0] * before[1] * before[2] * self.latent

    def parameters(self, before: Shape, *, batchnorm_after: bool, first: bool) -> int:
        flat = before[0] * before[1] * before[2]
        return 2 * flat * self.latent + self.latent + flat


Gene = Annotated[ConvGene | BatchNormGene | PoolGene | DenseGene, Field(discriminator="kind")]
BodyGene = ConvGene | BatchNormGene | PoolGene
AnyGene = ConvGene | BatchNormGene | PoolGene | DenseGene

# The registry of gene kinds, by ``kind``: a new kind is a class above, listed here and in ``Gene``,
# and its builder in evonas.genomes.builder.
GENE_KINDS: dict[str, type[AnyGene]] = {
    cls.model_fields["kind"].default: cls for cls in (ConvGene, BatchNormGene, PoolGene, DenseGene)
}


def gene_token(gene: AnyGene) -> str:
    """The compact token of one gene: ``c32k3`` (relu), ``c32k3e`` (elu), ``bn``, ``pmax``, ``d16``."""
    return gene.token()


def parse_gene_token(token: str) -> AnyGene:
    """Inverse of :func:`gene_token`; raises ``ValueError`` naming the token."""
    for cls in GENE_KINDS.values():
        if m := re.fullmatch(cls.PATTERN, token):
            return cls.from_match(m)
    raise ValueError(
        f"Unknown gene token {token!r}: expected cNkK[e|l|t] (conv), bn, pmax, pavg or dN (dense)."
    )
