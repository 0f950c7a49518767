"""Gene kinds: immutable, validated values that a genome is a sequence of.

A genome is ``conv (conv | batchnorm | pool)* dense``. Each gene is a frozen pydantic
model; :data:`Gene` is their discriminated union on ``kind`` so that a genome's JSON
form round-trips exactly.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal["relu", "elu", "leaky_relu", "tanh"]
ACTIVATIONS: tuple[Activation, ...] = ("relu", "elu", "leaky_relu", "tanh")
PoolMode = Literal["max", "avg"]
POOL_MODES: tuple[PoolMode, ...] = ("max", "avg")
Kernel = Literal[3, 5]
KERNELS: tuple[Kernel, ...] = (3, 5)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ConvGene(BaseModel):
    """A 'same'-padded convolution followed by its activation."""

    model_config = _FROZEN
    kind: Literal["conv"] = "conv"
    channels: int = Field(ge=1, le=4096)
    kernel: Kernel = 3
    activation: Activation = "relu"


class BatchNormGene(BaseModel):
    """Batch normalisation of the convolution just before it (applied before its activation)."""

    model_config = _FROZEN
    kind: Literal["batchnorm"] = "batchnorm"


class PoolGene(BaseModel):
    """A 2x2 pooling with stride 2 (floor), halving height and width."""

    model_config = _FROZEN
    kind: Literal["pool"] = "pool"
    mode: PoolMode = "max"


class DenseGene(BaseModel):
    """The final linear layer from the flattened feature map to the latent code."""

    model_config = _FROZEN
    kind: Literal["dense"] = "dense"
    latent: int = Field(ge=1, le=65536)


Gene = Annotated[ConvGene | BatchNormGene | PoolGene | DenseGene, Field(discriminator="kind")]
BodyGene = ConvGene | BatchNormGene | PoolGene

_ACT_CODES = {"relu": "", "elu": "e", "leaky_relu": "l", "tanh": "t"}
_CODE_ACTS = {code: act for act, code in _ACT_CODES.items()}


def gene_token(gene: ConvGene | BatchNormGene | PoolGene | DenseGene) -> str:
    """The compact token of one gene: ``c32k3`` (relu), ``c32k3e`` (elu), ``bn``, ``pmax``, ``d16``."""
    if isinstance(gene, ConvGene):
        return f"c{gene.channels}k{gene.kernel}{_ACT_CODES[gene.activation]}"
    if isinstance(gene, BatchNormGene):
        return "bn"
    if isinstance(gene, PoolGene):
        return f"p{gene.mode}"
    return f"d{gene.latent}"


def parse_gene_token(token: str) -> ConvGene | BatchNormGene | PoolGene | DenseGene:
    """Inverse of :func:`gene_token`; raises ``ValueError`` naming the token."""
    import re

    if token == "bn":
        return BatchNormGene()
    if token in ("pmax", "pavg"):
        return PoolGene(mode=token[1:])  # type: ignore[arg-type]
    if m := re.fullmatch(r"d(\d+)", token):
        return DenseGene(latent=int(m.group(1)))
    if m := re.fullmatch(r"c(\d+)k([35])([elt]?)", token):
        return ConvGene(
            channels=int(m.group(1)),
            kernel=int(m.group(2)),  # type: ignore[arg-type]
            activation=_CODE_ACTS[m.group(3)],
        )
    raise ValueError(
        f"Unknown gene token {token!r}: expected cNkK[e|l|t] (conv), bn, pmax, pavg or dN (dense)."
    )
