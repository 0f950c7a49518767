"""The time budget (``--time-budget``), one rule for both loops: nothing starts that is expected
to end past the budget. Each driver starts its own clock (a resumed run gets the budget again)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from evonas.clock import duration_text


class TimeBudget:
    """Seconds this driver may run, counted from ``started`` (a ``time.perf_counter()``)."""

    def __init__(self, seconds: float | None, started: float | None = None) -> None:
        self.seconds = seconds
        self.started = time.perf_counter() if started is None else started

    def _reason(self, expected: float, what: str) -> str | None:
        if self.seconds is None:
            return None
        elapsed = time.perf_counter() - self.started
        if elapsed + expected <= self.seconds:
            return None
        return (
            f"time budget of {duration_text(self.seconds)} spent: {duration_text(elapsed)} used, and "
            f"{what} would take about {duration_text(expected)}"
        )

    def before_generation(self, durations: Sequence[float]) -> str | None:
        """Why the next generation may not start, or None: it is expected to take as long as the
        longest of the last three."""
        return self._reason(max(durations[-3:], default=0.0), "the next generation")

    def before_evaluation(self, finished: int, slots: int) -> str | None:
        """Why another evaluation may not start, or None: it is expected to take the mean time of
        those finished so far, per slot."""
        elapsed = time.perf_counter() - self.started
        per_slot = elapsed / finished * slots if finished else 0.0
        return self._reason(per_slot, "another evaluation")
