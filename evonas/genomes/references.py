"""Hand-designed architectures a search can start from, by name (``nas run --seed-genome kcae``).

- ``kcae``: the convolutional autoencoder of the K-CAE paper (three 3x3 convs of 128, 64 and 32
  channels, each followed by max pooling, and a 512-unit code).
- ``small``: a compact two-conv CAE with batch normalisation, the shape of many tutorial CAEs.

A DEC-style dense autoencoder (784-500-500-2000-10) cannot be written as a genome, which always
starts with a convolution; its nearest genome is a single conv feeding a dense code.
"""

from __future__ import annotations

from evonas.errors import InvalidGenomeError
from evonas.genomes.genome import Genome

REFERENCES: dict[str, str] = {
    "kcae": "c128k3-pmax-c64k3-pmax-c32k3-pmax-d512",
    "small": "c32k3-bn-pmax-c64k3-bn-pmax-d10",
}


def seed_genome(text: str) -> Genome:
    """A genome from a reference name or a compact form; raises InvalidGenomeError naming both."""
    name = text.strip()
    if name.lower() in REFERENCES:
        return Genome.from_compact(REFERENCES[name.lower()])
    try:
        return Genome.from_compact(name)
    except InvalidGenomeError as exc:
        raise InvalidGenomeError(
            f"--seed-genome {text!r} is neither a reference ({', '.join(sorted(REFERENCES))}) nor a "
            f"compact genome: {exc}"
        ) from None
