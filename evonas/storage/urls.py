"""Database URLs: the default (``$EVONAS_DB`` or ``evonas.db``), plain paths taken as SQLite files,
and the one way a URL is made fit to print (its password masked)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import make_url

from evonas.errors import StorageError

DEFAULT_DB_URL = "sqlite:///evonas.db"
DB_ENV = "EVONAS_DB"  # a database URL from the environment keeps a password out of shell history


def default_db_url() -> str:
    """``$EVONAS_DB`` when set, else the SQLite file ``evonas.db`` in the working folder."""
    return os.environ.get(DB_ENV, "").strip() or DEFAULT_DB_URL


_LIST_HINT = "list runs with 'nas runs'"


def normalise_db_url(db: str) -> str:
    """Accept an SQLAlchemy URL or a plain file path (taken as an SQLite file)."""
    if not db.strip():
        raise StorageError("--db is empty: name a database file (e.g. evonas.db) or a database URL.")
    return db if "://" in db else f"sqlite:///{db}"


def sqlite_path(db: str) -> Path | None:
    """The file of an SQLite database (a plain path or a ``sqlite:///`` URL), or None for another
    database or an in-memory one: the one place a database URL is turned into a path."""
    url = normalise_db_url(db) if db.strip() else ""
    if not url.startswith("sqlite:///"):
        return None
    raw = url.removeprefix("sqlite:///")
    if raw.strip() in ("", ":memory:") or raw.startswith("file:") or "mode=memory" in raw:
        return None
    return Path(raw)


def mask_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``: the one place a
    database URL is made fit to print (messages, logs, tables)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable as a URL: mask anything between ':' and '@' after the scheme
        return re.sub(r"^([A-Za-z0-9+.-]+://[^:/@]*):[^@]*@", r"\1:***@", url)
