"""The search space: which genes, sizes and lengths a search may draw."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evonas.errors import InvalidGenomeError
from evonas.genomes.genes import (
    ACTIVATIONS,
    KERNELS,
    POOL_MODES,
    Activation,
    ConvGene,
    Kernel,
    PoolGene,
    PoolMode,
)
from evonas.genomes.genome import Genome
from evonas.genomes.recipe import AUGMENTS, LEARNING_RATES, NOISES, SMALL_LEARNING_RATES, Augment
from evonas.sizes import is_large


class SearchSpace(BaseModel):
    """Ranges of the genes a search draws from. Both bounds of every range are inclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_channels: int = Field(8, ge=1, le=4096)
    max_channels: int = Field(128, ge=1, le=4096)
    kernels: tuple[Kernel, ...] = Field(KERNELS, min_length=1)
    activations: tuple[Activation, ...] = Field(ACTIVATIONS, min_length=1)
    pool_modes: tuple[PoolMode, ...] = Field(POOL_MODES, min_length=1)
    min_convs: int = Field(1, ge=1, le=64)
    max_convs: int = Field(8, ge=1, le=64)
    min_latent: int = Field(2, ge=1, le=65_536)
    max_latent: int = Field(128, ge=1, le=65_536)
    max_params: int = Field(2_000_000, ge=1, le=10**10, description="Largest allowed autoencoder size.")
    max_macs: int | None = Field(
        None, ge=1, le=10**13,
        description="Largest multiply-accumulates per image (encoder and decoder): the cost of training.",
    )  # fmt: skip
    p_batchnorm: float = Field(0.4, ge=0, le=1, description="Chance a drawn conv gets batchnorm.")
    p_pool: float = Field(0.5, ge=0, le=1, description="Chance a drawn conv is followed by a pool.")
    recipes: bool = Field(
        True, description="Whether genomes carry a training recipe that evolves with the layers."
    )
    augments: tuple[Augment, ...] = Field(AUGMENTS, min_length=1)
    noises: tuple[float, ...] = Field(NOISES, min_length=1)
    learning_rates: tuple[float, ...] = Field(LEARNING_RATES, min_length=1)

    @model_validator(mode="after")
    def _ordered_bounds(self) -> SearchSpace:
        for lo, hi in (
            ("min_channels", "max_channels"),
            ("min_convs", "max_convs"),
            ("min_latent", "max_latent"),
        ):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(
                    f"{lo} must be <= {hi}. Got {getattr(self, lo)} > {getattr(self, hi)} instead."
                )
        return self

    @classmethod
    def preset_for(cls, input_shape: tuple[int, int, int]) -> SearchSpace:
        """Sensible ranges for an input shape: small images get small, shallow networks; larger
        ones at most 4 convs of 8-64 channels, 400k parameters and 16M multiply-accumulates per
        image, so that one candidate's 1000 steps take about a minute on a CPU core rather than
        3-14 (a 1.6M-parameter genome took 819 s; without the compute cap, 150-340 s) and a
        search of an hour sees many generations."""
        if not is_large(input_shape):  # 8x8 digits: small CAEs on few images want a faster rate
            return cls(
                max_channels=32, max_convs=3, max_latent=32, max_params=200_000,
                learning_rates=SMALL_LEARNING_RATES,
            )  # fmt: skip
        return cls(max_channels=64, max_convs=4, max_latent=64, max_params=400_000, max_macs=16_000_000)

    @property
    def channel_choices(self) -> tuple[int, ...]:
        """The channel counts drawn: the bounds and every power of two between them."""
        powers = {2**k for k in range(13) if self.min_channels <= 2**k <= self.max_channels}
        return tuple(sorted(powers | {self.min_channels, self.max_channels}))

    def check(self, genome: Genome) -> None:
        """Raise :class:`InvalidGenomeError` naming the first gene outside this space."""
        if not self.min_convs <= genome.n_convs <= self.max_convs:
            raise InvalidGenomeError(
                f"Genome {genome.compact()} has {genome.n_convs} conv genes, "
                f"outside [{self.min_convs}, {self.max_convs}]."
            )
        for i, gene in enumerate(genome.body):
            if isinstance(gene, ConvGene):
                if not self.min_channels <= gene.channels <= self.max_channels:
                    raise InvalidGenomeError(
                        f"Gene {i}: {gene.channels} channels outside "
                        f"[{self.min_channels}, {self.max_channels}]."
                    )
                if gene.kernel not in self.kernels or gene.activation not in self.activations:
                    raise InvalidGenomeError(f"Gene {i}: kernel or activation not in the search space.")
            if isinstance(gene, PoolGene) and gene.mode not in self.pool_modes:
                raise InvalidGenomeError(f"Gene {i}: pool mode {gene.mode} not in the search space.")
        if not self.min_latent <= genome.latent_dim <= self.max_latent:
            raise InvalidGenomeError(
                f"Latent size {genome.latent_dim} outside [{self.min_latent}, {self.max_latent}]."
            )
