"""Progress displays for `nas run`: redrawn in place in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from evonas.views.progress import RunProgress


class LineProgress:
    """One plain line per update (no control characters), so logs stay readable. While nothing
    finishes, the line is repeated once a minute, so a long evaluation never looks like a hang."""

    QUIET_SECONDS = 60.0
    EPOCH_SECONDS = 15.0  # at most this often for epochs of running evaluations alone

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        # (generation, done, epochs in flight, elapsed) last written
        self._last: tuple[int, int, tuple[tuple[int, int], ...], float] | None = None

    def update(self, progress: RunProgress, *, final: bool = False) -> None:
        key = (progress.generation or 0, progress.done)
        last = self._last
        if not final and last and last[:2] == key:
            quiet = self.QUIET_SECONDS if last[2] == progress.epochs else self.EPOCH_SECONDS
            if progress.elapsed - last[3] < quiet:
                return  # a tick with nothing new, or only epochs and too soon
        self._last = (*key, progress.epochs, progress.elapsed)
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
