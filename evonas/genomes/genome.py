"""The genome value: an immutable sequence of genes with a canonical form and a stable hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from evonas.errors import InvalidGenomeError
from evonas.genomes.genes import (
    BatchNormGene,
    BodyGene,
    ConvGene,
    DenseGene,
    Gene,
    PoolGene,
    gene_token,
    parse_gene_token,
)
from evonas.genomes.recipe import Recipe


class Genome(BaseModel):
    """A CAE encoder: ``conv (conv | batchnorm | pool)* dense``.

    The order rules are checked here (they need no input shape); shape and size
    checks, which depend on the dataset, are in :func:`evonas.genomes.validate_genome`.
    Two genomes are equal exactly when their canonical JSON forms are equal, and then
    their :attr:`hash` is equal too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    genes: tuple[Gene, ...]
    recipe: Recipe | None = None  # None: trained as the run's budget says (genomes before recipes)

    @field_validator("genes")
    @classmethod
    def _ordered(cls, genes: tuple[Gene, ...]) -> tuple[Gene, ...]:
        check_order(genes)
        return genes

    # -- forms -------------------------------------------------------------------------
    def canonical_json(self) -> str:
        """The canonical JSON form: every field explicit, keys sorted, no spaces. A genome without
        a recipe has no ``recipe`` key, so genomes stored before recipes keep their hashes."""
        doc = self.model_dump(mode="json")
        if doc["recipe"] is None:
            del doc["recipe"]
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @cached_property
    def hash(self) -> str:
        """A stable 16-hex-digit hash of the canonical form (SHA-256 prefix)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def compact(self) -> str:
        """A one-line form for tables and logs, e.g. ``c32k3-bn-pmax-c64k5-pavg-d16``, with the
        recipe after a ``+``: ``c32k3-pmax-d16+aug:medium,noise:0.1,lr:0.001``."""
        layers = "-".join(gene_token(g) for g in self.genes)
        return layers if self.recipe is None else f"{layers}+{self.recipe.compact()}"

    def __str__(self) -> str:
        return self.compact()

    @classmethod
    def from_compact(cls, text: str) -> Genome:
        """Parse the compact form; raises :class:`InvalidGenomeError` naming the bad token."""
        layers, _, recipe = text.strip().partition("+")
        try:
            genes = [parse_gene_token(tok) for tok in layers.split("-")]
        except (ValueError, ValidationError) as exc:
            raise InvalidGenomeError(f"Cannot parse genome {text!r}: {exc}") from None
        return cls.of(genes, Recipe.from_compact(recipe) if recipe else None)

    @classmethod
    def from_json(cls, text: str | bytes) -> Genome:
        """Parse a JSON form (canonical or not); raises :class:`InvalidGenomeError`."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InvalidGenomeError(f"Invalid genome JSON: {_first_error(exc)}") from None

    @classmethod
    def of(cls, genes: Sequence[Gene], recipe: Recipe | None = None) -> Genome:
        """Build from a gene list, turning rule violations into :class:`InvalidGenomeError`."""
        try:
            return cls(genes=tuple(genes), recipe=recipe)
        except ValidationError as exc:
            raise InvalidGenomeError(_first_error(exc)) from None

    # -- views -------------------------------------------------------------------------
    @property
    def body(self) -> tuple[BodyGene, ...]:
        """Every gene but the final dense gene."""
        return self.genes[:-1]  # type: ignore[return-value]

    @property
    def dense(self) -> DenseGene:
        return self.genes[-1]  # type: ignore[return-value]

    @property
    def latent_dim(self) -> int:
        return self.dense.latent

    @property
    def n_convs(self) -> int:
        return sum(isinstance(g, ConvGene) for g in self.genes)

    @property
    def n_pools(self) -> int:
        return sum(isinstance(g, PoolGene) for g in self.genes)


def check_order(genes: Sequence[Gene]) -> None:
    """Raise ``ValueError`` (naming the gene) if ``genes`` breaks an ordering rule."""
    if len(genes) < 2:
        raise ValueError("A genome needs at least a conv gene and a dense gene.")
    if not isinstance(genes[0], ConvGene):
        raise ValueError(f"Gene 0 ({gene_token(genes[0])}) must be a conv gene.")
    if not isinstance(genes[-1], DenseGene):
        raise ValueError(f"Gene {len(genes) - 1} ({gene_token(genes[-1])}) must be a dense gene.")
    for i, gene in enumerate(genes[:-1]):
        if isinstance(gene, DenseGene):
            raise ValueError(f"Gene {i} ({gene_token(gene)}): dense is allowed only as the last gene.")
        if isinstance(gene, BatchNormGene) and not isinstance(genes[i - 1], ConvGene):
            raise ValueError(
                f"Gene {i} (bn) must directly follow a conv gene, not {gene_token(genes[i - 1])}."
            )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where and where != "genes" else msg
