"""The database schema's version, as Alembic revisions (``migrations/versions``), and upgrades.

Alembic records the revision in its ``alembic_version`` table. Databases written before Alembic
(evonas schema versions 1 and 2, recorded in ``evonas_meta``) are stamped with the matching
revision and upgraded from there. ``evonas_meta.schema_version`` is kept current too, so an older
evonas refuses a newer database with a clear message instead of misreading it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from evonas import __version__
from evonas.errors import StorageError
from evonas.storage.urls import mask_password

MIGRATIONS = Path(__file__).parent / "migrations"
LEGACY_REVISIONS = {1: "0001", 2: "0002"}  # evonas_meta.schema_version -> Alembic revision
EVONAS_TABLES = {"evonas_meta", "runs", "generations", "individuals", "evaluation_journal"}


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def current_revision(conn: Connection) -> str | None:
    """The database's revision: Alembic's, or the one matching a pre-Alembic evonas schema version;
    None for a database without evonas tables. Raises StorageError for another application's
    database or a version this evonas does not know."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables and "evonas_meta" in tables:
        rev = MigrationContext.configure(conn).get_current_revision()
        if rev is not None and not _known(rev):
            raise _newer(conn, f"revision {rev}")
        return rev
    if "evonas_meta" in tables:
        row = conn.execute(text("SELECT value FROM evonas_meta WHERE key = 'schema_version'")).first()
        version = int(row[0]) if row and str(row[0]).isdigit() else None
        if version not in LEGACY_REVISIONS:
            raise _newer(conn, f"schema version {version}")
        return LEGACY_REVISIONS[version]
    if tables:
        raise StorageError(
            f"The database {_url(conn)} holds tables that are not evonas's; it was left untouched. "
            "Point --db at another database."
        )
    return None


def _known(rev: str) -> bool:
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(rev) is not None
    except Exception:
        return False


def _newer(conn: Connection, what: str) -> StorageError:
    return StorageError(
        f"The database {_url(conn)} has evonas {what}, which this evonas ({__version__}) does not know "
        f"(it reads up to revision {head_revision()}): use a newer evonas, or another --db."
    )


def _url(conn: Connection) -> str:
    return mask_password(
        conn.engine.url.render_as_string(hide_password=False)
    )  # a URL object: already parsed


def upgrade(conn: Connection, found: str | None) -> None:
    """Take the database from revision ``found`` (None: empty) to the head, inside the caller's
    transaction on ``conn``."""
    cfg = _config(conn)
    if found is not None and "alembic_version" not in set(inspect(conn).get_table_names()):
        command.stamp(cfg, found)  # a database of evonas schema version 1 or 2
    command.upgrade(cfg, "head")
