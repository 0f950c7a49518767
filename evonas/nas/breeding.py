"""Breeding, shared by both loops: generation 0's genomes (the user's seeds, then random ones) and
children bred from a population by tournament, crossover and mutation.

As DEAP's ``varAnd`` serves ``eaSimple`` and ``eaMuPlusLambda`` alike, the generational and the
steady-state loop call the same :class:`Breeder`; they differ only in when they call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from evonas.genomes import Genome, Recipe, SearchSpace, crossover, mutate, random_genome, validate_genome
from evonas.genomes.references import seed_genome
from evonas.nas.config import RunConfig
from evonas.nas.selection import Individual, tournament

NOVELTY_TRIES = 10  # redraws of a child whose genome the run has evaluated already
RANDOM_TRIES = 20  # random draws per genome wanted, before a small space gives fewer


@dataclass(frozen=True)
class Candidate:
    """A genome about to be evaluated, with where it came from."""

    genome: Genome
    parents: tuple[str, ...]  # the parents' hashes: none for seeds and random genomes
    operator: str  # "seed", "init", "random", "crossover", "mutate:<op>", "crossover+mutate:<op>"


class Breeder:
    """Makes candidates for one run: its configuration, search space and image shape."""

    def __init__(self, config: RunConfig, space: SearchSpace, input_shape: tuple[int, int, int]) -> None:
        self.config = config
        self.space = space
        self.input_shape = input_shape

    def seeded(self) -> list[Candidate]:
        """The genomes the user put into generation 0 (``config.seed_genomes``), distinct, at most
        a population's worth; one without a recipe gets the default recipe when recipes evolve."""
        out: dict[str, Candidate] = {}
        for text in self.config.seed_genomes[: self.config.population]:
            genome = seed_genome(text)
            if genome.recipe is None and self.space.recipes:
                genome = Genome.of(genome.genes, Recipe(lr=self.config.budget.lr))
            validate_genome(genome, self.input_shape)  # valid for the images; ranges do not apply
            out.setdefault(genome.hash, Candidate(genome, (), "seed"))
        return list(out.values())

    def random(
        self, rng: np.random.Generator, count: int, taken: AbstractSet[str], operator: str = "init"
    ) -> list[Candidate]:
        """``count`` random valid genomes, distinct and not in ``taken`` (as far as the space
        allows: fewer when it runs out)."""
        genomes: dict[str, Genome] = {}
        for _ in range(count * RANDOM_TRIES):
            if len(genomes) == count:
                break
            g = random_genome(self.space, self.input_shape, rng)
            if g.hash not in taken:
                genomes.setdefault(g.hash, g)
        return [Candidate(g, (), operator) for g in genomes.values()]

    def child(self, population: Sequence[Individual], rng: np.random.Generator) -> Candidate:
        """One child: two tournament parents crossed (with ``crossover_prob``) or one parent, then
        mutated (with ``mutation_prob``, and always when it would be a copy of a parent)."""
        cfg = self.config
        parents: tuple[str, ...]
        if len(population) >= 2 and rng.random() < cfg.crossover_prob:
            a, b = tournament(population, 2, cfg.tournament_size, rng)
            child = crossover(a.genome, b.genome, self.space, self.input_shape, rng)[0]
            parents, ops = (a.hash, b.hash), ["crossover"]
        else:
            (a,) = tournament(population, 1, cfg.tournament_size, rng)
            child, parents, ops = a.genome, (a.hash,), []
        if rng.random() < cfg.mutation_prob or child.hash in parents:
            child, op = mutate(child, self.space, self.input_shape, rng)
            ops.append(f"mutate:{op}")
        return Candidate(child, parents, "+".join(ops))

    def novel_child(
        self, population: Sequence[Individual], rng: np.random.Generator, seen: AbstractSet[str]
    ) -> Candidate:
        """A child whose genome is not in ``seen``, redrawn up to ``NOVELTY_TRIES`` times so that
        evaluations go to new architectures; past that the last draw is kept (it is then recorded
        as a cached copy)."""
        child = self.child(population, rng)
        for _ in range(NOVELTY_TRIES - 1):
            if child.genome.hash not in seen:
                break
            child = self.child(population, rng)
        return child

    def offspring(
        self, population: Sequence[Individual], rng: np.random.Generator, count: int, seen: AbstractSet[str]
    ) -> list[Candidate]:
        """``count`` children, each new to ``seen`` and to the children before it where possible."""
        out: list[Candidate] = []
        taken = set(seen)
        for _ in range(count):
            child = self.novel_child(population, rng, taken)
            taken.add(child.genome.hash)
            out.append(child)
        return out
