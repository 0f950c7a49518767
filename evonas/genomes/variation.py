"""Random genomes, mutation and crossover: pure functions of an explicit random generator.

Every operator returns only genomes that are valid for the input shape and inside the
search space: it repairs what it can (drops a batchnorm that no longer follows a conv, a
pool that would collapse the feature map, surplus convs) and redraws otherwise; after
``max_tries`` failed draws it returns the parent(s) unchanged, which are valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.errors import InvalidGenomeError
from evonas.genomes.genes import BatchNormGene, BodyGene, ConvGene, DenseGene, PoolGene
from evonas.genomes.genome import Genome
from evonas.genomes.recipe import Recipe
from evonas.genomes.shapes import Shape, forward_macs, validate_genome
from evonas.genomes.space import SearchSpace

MUTATIONS = ("add", "remove", "change", "swap")


@dataclass(frozen=True)
class GeneOrigin:
    """Where a child's gene came from: gene ``index`` of parent ``parent`` (0 for a mutation's
    one parent; 0 or 1 for crossover's ``a`` and ``b``), ``changed`` when the operator altered it
    (a new channel count, kernel, activation, pool mode or latent size). A gene the operator
    inserted has no origin (None). Weight inheritance copies what an unchanged gene's layers hold."""

    parent: int
    index: int
    changed: bool = False


Origins = tuple[GeneOrigin | None, ...]  # one per gene of the child, in order
RECIPE_MUTATION = "recipe"  # one more operator for genomes that carry a recipe


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def random_conv(space: SearchSpace, rng: np.random.Generator) -> ConvGene:
    return ConvGene(
        channels=_pick(rng, space.channel_choices),
        kernel=_pick(rng, space.kernels),
        activation=_pick(rng, space.activations),
    )


def random_dense(space: SearchSpace, rng: np.random.Generator) -> DenseGene:
    # log-uniform, so small and large latents are drawn alike
    lo, hi = np.log(space.min_latent), np.log(space.max_latent + 1)
    return DenseGene(latent=int(min(space.max_latent, np.exp(rng.uniform(lo, hi)))))


def random_recipe(space: SearchSpace, rng: np.random.Generator) -> Recipe:
    return Recipe(
        augment=_pick(rng, space.augments), noise=float(_pick(rng, space.noises)),
        lr=float(_pick(rng, space.learning_rates)),
    )  # fmt: skip


def mutate_recipe(recipe: Recipe, space: SearchSpace, rng: np.random.Generator) -> Recipe:
    """Move one field of the recipe to a neighbouring value of its range in ``space``."""
    field, choices = _pick(
        rng, (("augment", space.augments), ("noise", space.noises), ("lr", space.learning_rates))
    )
    current = getattr(recipe, field)
    i = choices.index(current) if current in choices else int(rng.integers(len(choices)))
    j = int(np.clip(i + _pick(rng, (-1, 1)), 0, len(choices) - 1))
    if j == i:
        j = int(np.clip(i + (1 if i == 0 else -1), 0, len(choices) - 1))
    return recipe.model_copy(update={field: choices[j]})


def cross_recipes(a: Recipe | None, b: Recipe | None, rng: np.random.Generator) -> Recipe | None:
    """Each field from either parent at random (uniform crossover); a parent without a recipe
    gives its partner's."""
    if a is None or b is None:
        return a or b
    picks = {f: getattr(a if rng.random() < 0.5 else b, f) for f in ("augment", "noise", "lr")}
    return Recipe(**picks)


def _accept(
    genes: list, space: SearchSpace, input_shape: Shape, recipe: Recipe | None = None
) -> Genome | None:
    """Repair ``genes`` and return the genome if it is valid and in ``space``, else None."""
    accepted = _accept_traced(genes, [None] * len(genes), space, input_shape, recipe)
    return None if accepted is None else accepted[0]


def _accept_traced(
    genes: list,
    origins: list[GeneOrigin | None],
    space: SearchSpace,
    input_shape: Shape,
    recipe: Recipe | None = None,
) -> tuple[Genome, Origins] | None:
    """:func:`_accept`, with each kept gene's origin (the repair may drop genes)."""
    kept, kept_origins = _repair_traced(genes, origins, space, input_shape)
    try:
        genome = Genome.of(kept, recipe)
        space.check(genome)
        validate_genome(genome, input_shape, space.max_params)
    except InvalidGenomeError:
        return None
    if space.max_macs is not None and forward_macs(genome, input_shape) > space.max_macs:
        return None
    return genome, tuple(kept_origins)


def repair(genes: Sequence, space: SearchSpace, input_shape: Shape) -> list:
    """Bring a gene list back to the ordering rules where that is a matter of dropping genes.

    Drops leading non-conv genes, a batchnorm not directly after a conv, convs beyond
    ``space.max_convs`` (with their batchnorm) and pools that would shrink the feature map
    below 1 pixel. Does not add genes; the caller validates the result.
    """
    return _repair_traced(list(genes), [None] * len(genes), space, input_shape)[0]


def _repair_traced(
    genes: list, origins: list[GeneOrigin | None], space: SearchSpace, input_shape: Shape
) -> tuple[list, list[GeneOrigin | None]]:
    """:func:`repair` of ``genes``, keeping ``origins`` (one per gene) beside the genes it keeps."""
    tagged = list(zip(genes, origins, strict=True))
    body = [t for t in tagged if not isinstance(t[0], DenseGene)]
    dense = next((t for t in reversed(tagged) if isinstance(t[0], DenseGene)), None)
    while body and not isinstance(body[0][0], ConvGene):
        body.pop(0)
    out: list = []
    convs = 0
    h, w = input_shape[1], input_shape[2]
    for gene, origin in body:
        if isinstance(gene, ConvGene):
            convs += 1
            if convs > space.max_convs:
                continue
        elif isinstance(gene, BatchNormGene):
            if not out or not isinstance(out[-1][0], ConvGene) or convs > space.max_convs:
                continue
        elif isinstance(gene, PoolGene):
            if h < 2 or w < 2:
                continue
            h, w = h // 2, w // 2
        out.append((gene, origin))
    kept = [*out, dense] if dense is not None else out
    return [g for g, _ in kept], [o for _, o in kept]


def random_genome(
    space: SearchSpace, input_shape: Shape, rng: np.random.Generator, max_tries: int = 1000
) -> Genome:
    """Draw a valid genome: convs, each maybe followed by batchnorm and a pool, then dense."""
    for _ in range(max_tries):
        genes: list = []
        for _ in range(int(rng.integers(space.min_convs, space.max_convs + 1))):
            genes.append(random_conv(space, rng))
            if rng.random() < space.p_batchnorm:
                genes.append(BatchNormGene())
            if rng.random() < space.p_pool:
                genes.append(PoolGene(mode=_pick(rng, space.pool_modes)))
        genes.append(random_dense(space, rng))
        recipe = random_recipe(space, rng) if space.recipes else None
        genome = _accept(genes, space, input_shape, recipe)
        if genome is not None and genome.n_convs >= space.min_convs:
            return genome
    raise InvalidGenomeError(
        f"Could not draw a valid genome for input shape {input_shape} in {max_tries} tries: "
        "the search space is too large for max_params / max_macs or too deep for the image size."
    )


def _change(gene: BodyGene | DenseGene, space: SearchSpace, rng: np.random.Generator) -> BodyGene | DenseGene:
    if isinstance(gene, ConvGene):
        field = _pick(rng, ("channels", "kernel", "activation"))
        if field == "channels":
            choices = space.channel_choices
            i = choices.index(gene.channels) if gene.channels in choices else 0
            j = int(np.clip(i + _pick(rng, (-1, 1)), 0, len(choices) - 1))
            return gene.model_copy(update={"channels": choices[j]})
        if field == "kernel":
            return gene.model_copy(update={"kernel": _pick(rng, space.kernels)})
        return gene.model_copy(update={"activation": _pick(rng, space.activations)})
    if isinstance(gene, PoolGene):
        return PoolGene(mode=_pick(rng, space.pool_modes))
    if isinstance(gene, DenseGene):
        factor = float(np.exp(rng.normal(0.0, 0.5)))
        latent = int(np.clip(round(gene.latent * factor), space.min_latent, space.max_latent))
        return DenseGene(latent=latent) if latent != gene.latent else random_dense(space, rng)
    return gene


def _mutated_genes(
    genome: Genome, op: str, space: SearchSpace, rng: np.random.Generator
) -> tuple[list, list[GeneOrigin | None]] | None:
    genes = list(genome.genes)
    origins: list[GeneOrigin | None] = [GeneOrigin(0, i) for i in range(len(genes))]
    n_body = len(genes) - 1
    if op == "add":
        kind = _pick(rng, ("conv", "batchnorm", "pool"))
        new: BodyGene
        if kind == "conv":
            new = random_conv(space, rng)
        elif kind == "batchnorm":
            new = BatchNormGene()
        else:
            new = PoolGene(mode=_pick(rng, space.pool_modes))
        at = int(rng.integers(1, n_body + 1))
        genes.insert(at, new)
        origins.insert(at, None)
    elif op == "remove":
        if n_body < 2:
            return None
        at = int(rng.integers(1, n_body))
        genes.pop(at)
        origins.pop(at)
    elif op == "change":
        i = int(rng.integers(len(genes)))
        genes[i] = _change(genes[i], space, rng)
        origins[i] = GeneOrigin(0, i, changed=genes[i] != genome.genes[i])
    elif op == "swap":
        if n_body < 3:
            return None
        i = int(rng.integers(1, n_body - 1))
        genes[i], genes[i + 1] = genes[i + 1], genes[i]
        origins[i], origins[i + 1] = origins[i + 1], origins[i]
    return genes, origins


def mutate(
    genome: Genome,
    space: SearchSpace,
    input_shape: Shape,
    rng: np.random.Generator,
    max_tries: int = 20,
) -> tuple[Genome, str]:
    """One mutation (add, remove, change or swap genes); returns the child and the operator.

    The child differs from the parent unless ``max_tries`` draws all failed, in which case
    the parent comes back with the operator ``"none"``.
    """
    child, op, _ = mutate_traced(genome, space, input_shape, rng, max_tries)
    return child, op


def mutate_traced(
    genome: Genome,
    space: SearchSpace,
    input_shape: Shape,
    rng: np.random.Generator,
    max_tries: int = 20,
) -> tuple[Genome, str, Origins]:
    """:func:`mutate` (the same draws, the same child), with each child gene's origin."""
    identity: Origins = tuple(GeneOrigin(0, i) for i in range(len(genome.genes)))
    operators = (*MUTATIONS, RECIPE_MUTATION) if genome.recipe is not None and space.recipes else MUTATIONS
    for _ in range(max_tries):
        op = _pick(rng, operators)
        if op == RECIPE_MUTATION:
            recipe = mutate_recipe(genome.recipe, space, rng)  # type: ignore[arg-type]
            if recipe != genome.recipe:
                return Genome.of(genome.genes, recipe), op, identity
            continue
        drafted = _mutated_genes(genome, op, space, rng)
        if drafted is None:
            continue
        accepted = _accept_traced(*drafted, space, input_shape, genome.recipe)
        if accepted is not None and accepted[0].n_convs >= space.min_convs and accepted[0] != genome:
            return accepted[0], op, accepted[1]
    return genome, "none", identity


def crossover(
    a: Genome,
    b: Genome,
    space: SearchSpace,
    input_shape: Shape,
    rng: np.random.Generator,
    max_tries: int = 20,
) -> tuple[Genome, Genome]:
    """Cut-and-splice: cut each parent's body at its own random point and swap the tails.

    The first child keeps ``a``'s head and dense gene, the second ``b``'s. Cuts fall after
    the first gene, so each child starts with its parent's first conv. A child that cannot
    be repaired is redrawn; after ``max_tries`` its parent is returned in its place.
    """
    (first, _), (second, _) = crossover_traced(a, b, space, input_shape, rng, max_tries)
    return first, second


def crossover_traced(
    a: Genome,
    b: Genome,
    space: SearchSpace,
    input_shape: Shape,
    rng: np.random.Generator,
    max_tries: int = 20,
) -> tuple[tuple[Genome, Origins], tuple[Genome, Origins]]:
    """:func:`crossover` (the same draws, the same children), with each child gene's origin:
    parent 0 is ``a``, parent 1 is ``b``."""
    children: list[tuple[Genome, Origins] | None] = [None, None]
    recipes = (cross_recipes(a.recipe, b.recipe, rng), cross_recipes(b.recipe, a.recipe, rng))
    for _ in range(max_tries):
        i = int(rng.integers(1, len(a.body) + 1))
        j = int(rng.integers(1, len(b.body) + 1))
        drafts = (
            [*a.body[:i], *b.body[j:], a.dense],
            [*b.body[:j], *a.body[i:], b.dense],
        )
        origins = (
            [*_from(0, range(i)), *_from(1, range(j, len(b.body))), GeneOrigin(0, len(a.body))],
            [*_from(1, range(j)), *_from(0, range(i, len(a.body))), GeneOrigin(1, len(b.body))],
        )
        for k, draft in enumerate(drafts):
            if children[k] is None:
                child = _accept_traced(draft, origins[k], space, input_shape, recipes[k])
                if child is not None and child[0].n_convs >= space.min_convs:
                    children[k] = child
        if all(c is not None for c in children):
            break
    own = [(p, tuple(GeneOrigin(k, n) for n in range(len(p.genes)))) for k, p in enumerate((a, b))]
    return children[0] or own[0], children[1] or own[1]


def _from(parent: int, indices: range) -> list[GeneOrigin | None]:
    return [GeneOrigin(parent, n) for n in indices]
