"""Which evaluated individual is best: the one ranking rule of evonas.

An individual ranks when it is complete (fully evaluated with a score: not failed, not pruned,
see :attr:`IndividualRecord.complete`); complete ones rank by their objective (ACC, or the
silhouette without labels), highest first, the earliest on ties. A score of 0.0 or below is a
score like any other. The run's best, ``nas show``, ``nas status``, the report, ``nas runs``,
``nas compare`` and ``nas export --rank`` all use these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from evonas.storage.records import IndividualRecord


class _Hashed(Protocol):
    @property
    def hash(self) -> str: ...


H = TypeVar("H", bound=_Hashed)


def unique(items: Sequence[H]) -> list[H]:
    """Drop later items whose genome hash was already seen (keeps the population diverse)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.hash not in seen:
            seen.add(item.hash)
            out.append(item)
    return out


def better(candidate: IndividualRecord, incumbent: IndividualRecord | None) -> bool:
    """Whether ``candidate`` ranks strictly above ``incumbent`` (None: anything complete does)."""
    if not candidate.complete:
        return False
    if incumbent is None or not incumbent.complete:
        return True
    return candidate.score > incumbent.score  # type: ignore[operator]  # complete: both scored


def best(records: Iterable[IndividualRecord]) -> IndividualRecord | None:
    """The best complete record, the earliest on ties; None when none is complete."""
    top: IndividualRecord | None = None
    for rec in records:
        if better(rec, top):
            top = rec
    return top


def ranked(records: Iterable[IndividualRecord]) -> list[IndividualRecord]:
    """Distinct genomes' complete records (the first of each hash), best first, earliest on ties."""
    seen: dict[str, IndividualRecord] = {}
    for rec in records:
        if rec.complete and rec.hash not in seen:
            seen[rec.hash] = rec
    return sorted(seen.values(), key=lambda r: -r.score)  # type: ignore[operator]  # stable sort


def best_score(scores: Iterable[float | None]) -> float | None:
    """The highest of some objective values, None when there is none (0.0 counts)."""
    present = [s for s in scores if s is not None]
    return max(present) if present else None
