"""Progress displays for `nas run`: redrawn in place in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from evonas.nas.status import RunProgress


class LineProgress:
    """One plain line per update (no control characters), so logs stay readable. While nothing
    finishes, the line is repeated once a minute, so a long evaluation never looks like a hang."""

    QUIET_SECONDS = 60.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._last: tuple[int, int, float] | None = None  # (generation, done, elapsed) last written

    def update(self, progress: RunProgress, *, final: bool = False) -> None:
        key = (progress.generation or 0, progress.done)
        last = self._last
        if not final and last and last[:2] == key and progress.elapsed - last[2] < self.QUIET_SECONDS:
            return  # a tick with nothing new
        self._last = (*key, progress.elapsed)
        prefix = "stored: " if final else ""
        self.stream.write(prefix + progress.render() + "\n")
        self.stream.flush()


class LiveProgress:
    """One line per generation, redrawn in place; it stays on screen when the generation is stored."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._width = 0

    def update(self, progress: RunProgress, *, final: bool = False) -> None:
        line = progress.render()
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad + ("\n" if final else ""))
        self.stream.flush()
        self._width = 0 if final else len(line)


def progress_for(stream: TextIO | None = None) -> LineProgress | LiveProgress:
    """In-place redrawing for a terminal, plain lines for a pipe or a file."""
    stream = stream or sys.stderr
    return LiveProgress(stream) if stream.isatty() else LineProgress(stream)
