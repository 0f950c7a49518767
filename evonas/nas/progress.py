"""Progress lines for a run: plain text, one line per finished evaluation and per generation."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from evonas.nas.evolution import GenerationSummary
from evonas.workers import EvalResult


class LineProgress:
    """Writes plain lines (no control characters), readable in a terminal and in a log file."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._total = 0
        self._done = 0
        self._failed = 0
        self._start = time.perf_counter()

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def generation_started(self, index: int, last: int, to_evaluate: int, cached: int) -> None:
        self._total, self._done, self._failed = to_evaluate, 0, 0
        self._write(f"generation {index}/{last}: evaluating {to_evaluate} genomes ({cached} cached)")

    def evaluated(self, result: EvalResult) -> None:
        self._done += 1
        self._failed += result.status == "failed"
        what = f"acc {result.acc:.4f}" if result.acc is not None else f"failed: {result.error}"
        self._write(f"  [{self._done}/{self._total}] {what} ({result.seconds:.1f} s)")

    def generation_finished(self, s: GenerationSummary) -> None:
        best = (
            f"best ACC so far {s.best_acc:.4f} ({s.best_genome})"
            if s.best_acc is not None
            else "no success yet"
        )
        elapsed = time.perf_counter() - self._start
        self._write(
            f"generation {s.index}/{s.last} done in {s.seconds:.1f} s: {s.evaluated} evaluated, "
            f"{s.failed} failed, {s.cached} cached; {best}; elapsed {elapsed:.0f} s"
        )
