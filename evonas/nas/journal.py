"""The journal of the record being filled, shared by both loops: every finished evaluation is kept
at once, so a driver killed at any moment loses only the evaluations running then.

Keys (see :mod:`evonas.storage.records`): a first evaluation under the genome hash, a second seed
under ``hash + JOURNAL_REPLICATE``, a steady-state candidate under ``hash + JOURNAL_CANDIDATE``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from evonas.genomes import Genome
from evonas.metrics import DEFAULT_OBJECTIVE, Objective
from evonas.nas.breeding import Candidate
from evonas.statuses import EvalStatus
from evonas.storage import RunStorage
from evonas.storage.records import JOURNAL_CANDIDATE, JOURNAL_REPLICATE
from evonas.storage.weights import WeightStore
from evonas.values import EvalResult


class Journal:
    """One run's journal in its storage, with the run's weight keeping beside it."""

    def __init__(
        self,
        storage: RunStorage,
        run_id: int,
        weights: WeightStore | None = None,
        objective: Objective = DEFAULT_OBJECTIVE,
    ) -> None:
        self.storage = storage
        self.run_id = run_id
        self.weights = weights
        self.objective = objective  # the score that decides which weights are kept

    def load(self, index: int) -> dict[str, str]:
        """Everything journaled for record ``index``, by key, in the order it was written."""
        return self.storage.load_journal(self.run_id, index)

    def evaluation(self, index: int, genome_hash: str, result: EvalResult, *, second: bool = False) -> None:
        """Keep a finished evaluation (its weights go to the weight store, never the database);
        a first evaluation that completed offers its weights to the run's kept best."""
        key = genome_hash + (JOURNAL_REPLICATE if second else "")
        self.storage.journal_evaluation(self.run_id, index, key, result.model_dump_json(exclude={"weights"}))
        if not second and self.weights is not None and result.status == EvalStatus.OK:
            self.weights.offer(genome_hash, result.metrics.score(self.objective), result.weights)

    def candidate(self, index: int, c: Candidate) -> None:
        """Keep a steady-state candidate (genome, parents, operator) under its hash."""
        payload = json.dumps(
            {"genome": c.genome.canonical_json(), "parents": list(c.parents), "operator": c.operator}
        )
        self.storage.journal_evaluation(self.run_id, index, c.genome.hash + JOURNAL_CANDIDATE, payload)


def journaled_result(
    journal: Mapping[str, str], genome_hash: str, *, second: bool = False
) -> EvalResult | None:
    """A journaled evaluation of ``genome_hash`` (its second seed with ``second``), or None."""
    payload = journal.get(genome_hash + (JOURNAL_REPLICATE if second else ""))
    return None if payload is None else EvalResult.model_validate_json(payload)


def journaled_second_seeds(journal: Mapping[str, str]) -> set[str]:
    """The hashes whose second seed the journal holds."""
    return {key.removesuffix(JOURNAL_REPLICATE) for key in journal if key.endswith(JOURNAL_REPLICATE)}


def journaled_candidates(journal: Mapping[str, str]) -> list[tuple[Candidate, EvalResult]]:
    """The steady-state candidates with a journaled result, in the order they finished."""
    out = []
    for key, payload in journal.items():
        if key.endswith(JOURNAL_CANDIDATE) or key + JOURNAL_CANDIDATE not in journal:
            continue
        d = json.loads(journal[key + JOURNAL_CANDIDATE])
        candidate = Candidate(Genome.from_json(d["genome"]), tuple(d["parents"]), d["operator"])
        out.append((candidate, EvalResult.model_validate_json(payload)))
    return out
