"""The one "now" of evonas: naive UTC, as every stored time is."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time in UTC without tzinfo (how the database stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def duration_text(seconds: float) -> str:
    """A duration as people read it: ``45s``, ``4m12s``, ``2h05m``, ``3d04h``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
