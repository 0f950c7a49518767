"""Schema migrations (Alembic) on real SQLite files, from databases written by earlier evonas.

``fixtures/schema_v1.db`` and ``fixtures/schema_v2.db`` were written by evonas at schema versions
1 and 2 (a finished 3-individual digits run each, generations 0..1, before Alembic).
"""

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from evonas.errors import StorageError
from evonas.genomes import Genome
from evonas.storage import SQLStorage, head_revision
from evonas.storage.sql import Base

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(tmp_path, version: int) -> Path:
    path = tmp_path / f"v{version}.db"
    shutil.copyfile(FIXTURES / f"schema_v{version}.db", path)
    return path


def _schema_diff(path: Path | str) -> list:
    engine = create_engine(path if isinstance(path, str) else f"sqlite:///{path}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    return diff


def test_a_new_database_built_by_the_migrations_matches_the_models(tmp_path):
    SQLStorage(str(tmp_path / "new.db")).close()
    assert _schema_diff(tmp_path / "new.db") == []


def test_the_migrations_build_the_same_schema_on_postgresql(pg_url):
    SQLStorage(pg_url).close()
    assert _schema_diff(pg_url) == []
    with SQLStorage(pg_url, create=False) as again:  # opening it again changes nothing
        assert again.revision_before == head_revision()


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_database_is_upgraded_to_the_models_and_keeps_its_runs(tmp_path, version):
    path = _copy(tmp_path, version)
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT hash, acc, nmi, recon_loss FROM individuals ORDER BY id").fetchall()
    conn.close()
    with SQLStorage(str(path), create=False) as s:
        assert s.revision_before == f"000{version}"
        (run,) = s.list_runs()
        gens = s.load_generations(run.id)
        after = [
            (i.hash, i.metrics.acc, i.metrics.nmi, i.metrics.recon_loss) for g in gens for i in g.individuals
        ]
        assert after == before and len(gens) == 2 and run.status == "finished"
        assert len(run.uid) == 32 and run.input_shape is None  # not known to an old run
        for ind in (i for g in gens for i in g.individuals):  # stored genomes keep their hashes
            assert Genome.from_json(ind.genome).hash == ind.hash
    assert _schema_diff(path) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        assert conn.execute("SELECT value FROM evonas_meta").fetchall() == [(str(int(head_revision())),)]
    conn.close()


def test_upgrading_needs_no_write_when_current(tmp_path):
    path = tmp_path / "n.db"
    SQLStorage(str(path)).close()
    with SQLStorage(str(path), create=False, upgrade=False) as s:
        assert s.revision_before == head_revision()


def test_without_upgrade_an_old_database_is_refused_with_the_command_to_upgrade_it(tmp_path):
    path = _copy(tmp_path, 2)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="nas db upgrade --db"):
        SQLStorage(str(path), create=False, upgrade=False)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "statement, what",
    [
        ("UPDATE alembic_version SET version_num = '9999'", "revision 9999"),
        ("DROP TABLE alembic_version", None),
    ],
)
def test_a_database_newer_than_this_evonas_is_refused_untouched(tmp_path, statement, what):
    path = tmp_path / "future.db"
    SQLStorage(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute(statement)
        if what is None:  # a future evonas that recorded only its schema version
            conn.execute("UPDATE evonas_meta SET value = '99'")
            what = "schema version 99"
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match=f"{what}.*does not know"):
        SQLStorage(str(path), create=False)
    assert path.read_bytes() == before
