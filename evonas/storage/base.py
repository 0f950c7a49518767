"""The storage contract. The evolution loop talks to storage only through this class."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from typing import Any, Self

from evonas.errors import ConfigError
from evonas.storage.records import GenerationRecord, IndividualRecord, RunInfo

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # control characters, ANSI escapes (ESC) included


def check_new_run_name(name: str) -> None:
    """A new run's name must not look like an id nor carry control characters (newlines, ANSI
    escapes); runs stored under such names before this rule stay reachable."""
    if not name or len(name) > 200:
        raise ConfigError(f"The 'name' option must have 1 to 200 characters. Got {len(name)} instead.")
    if name.strip().isdigit():
        raise ConfigError(
            "The 'name' option must not be an integer (it would be taken for a run id). "
            f"Got {name!r} instead."
        )
    if _UNPRINTABLE.search(name):
        raise ConfigError(
            "The 'name' option must not contain control characters (newlines, tabs, ANSI escapes). "
            f"Got {name!r} instead."
        )


class RunStorage(abc.ABC):
    """Where runs, generations and individuals live.

    Contract, for every backend:

    - Only the driver writes; workers return results and never call storage.
    - :meth:`record_generation` is atomic: after a crash a generation is either stored
      whole (its individuals and its surviving population) or not at all. The stored
      generations are therefore the checkpoint a run resumes from.
    - A user's key finds a run by name or, failing that, by numeric id; every method that takes
      ``run_id`` finds it by id only. An unknown run raises
      :class:`~evonas.errors.RunNotFoundError` whose message says how to list runs.
    - A running run's driver refreshes its heartbeat (``heartbeat``, and any progress or
      generation it stores); other processes judge it alive while the heartbeat is fresh.
    - Driver errors come out as :class:`~evonas.errors.StorageError`.
    """

    @abc.abstractmethod
    def create_run(
        self,
        name: str,
        config: dict[str, Any],
        seed: int,
        eval_key: str = "",
        owner: str | None = None,
        *,
        input_shape: tuple[int, int, int] | None = None,
        data_fingerprint: str | None = None,
    ) -> RunInfo:
        """Create a run in status ``running`` with a new unique ``uid``; raises StorageError if
        the name is taken, ConfigError if :func:`check_new_run_name` refuses it."""

    @abc.abstractmethod
    def get_run(self, key: str | int) -> RunInfo:
        """The run with this name (or id)."""

    @abc.abstractmethod
    def list_runs(self) -> list[RunInfo]:
        """Every run, oldest first."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        config: dict[str, Any] | None = None,
        owner: str | None = None,
        stop_reason: str | None = None,
    ) -> None:
        """Set a run's status (and its error, config, owner and why it stopped). A status other
        than ``running`` stamps ``finished_at`` and clears the owner."""

    @abc.abstractmethod
    def heartbeat(self, run_id: int) -> None:
        """Record that the run's driver is alive now."""

    @abc.abstractmethod
    def update_progress(self, run_id: int, progress: dict[str, Any]) -> None:
        """Record what the generation in flight is doing (read by ``nas status``)."""

    @abc.abstractmethod
    def find_evaluations(self, eval_key: str, hashes: Iterable[str]) -> dict[str, IndividualRecord]:
        """Reusable evaluations (not cached copies, not infrastructure failures) of these genome
        hashes in any run with this evaluation key; the earliest one per hash."""

    @abc.abstractmethod
    def journal_evaluation(self, run_id: int, generation: int, genome_hash: str, payload: str) -> None:
        """Keep one finished evaluation of a generation that is not stored yet (an opaque
        ``payload``), so a crash loses only the evaluations in flight. Idempotent."""

    @abc.abstractmethod
    def load_journal(self, run_id: int, generation: int) -> dict[str, str]:
        """The journaled payloads of a generation not yet stored, by genome hash."""

    @abc.abstractmethod
    def record_generation(self, run_id: int, generation: GenerationRecord) -> None:
        """Store a completed generation in one transaction, dropping its journal."""

    @abc.abstractmethod
    def load_generations(self, run_id: int) -> list[GenerationRecord]:
        """The run's stored generations in index order, individuals in evaluation order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
