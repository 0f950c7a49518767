"""The storage contract on real SQLite through SQLAlchemy."""

import sqlite3

import pytest

from evonas.errors import RunNotFoundError, StorageError
from evonas.storage import SCHEMA_VERSION, GenerationRecord, IndividualRecord, SQLStorage


def _ind(h: str, acc: float | None = 0.5, status: str = "ok", **kw) -> IndividualRecord:
    return IndividualRecord(
        hash=h, genome='{"genes":[]}', parents=("p1", "p2"), operator="crossover", status=status,
        seed=7, acc=acc, nmi=0.4 if acc else None, ari=0.3 if acc else None, recon_loss=0.01,
        baseline_loss=0.07, params=1234, seconds=1.5, node="n1", device="cpu", **kw,
    )  # fmt: skip


@pytest.fixture
def storage(tmp_path):
    s = SQLStorage(str(tmp_path / "runs.db"))
    yield s
    s.close()


def test_round_trip(storage):
    run = storage.create_run("r1", {"population": 4, "nested": {"a": [1, 2]}}, seed=3)
    assert run.status == "running" and run.seed == 3 and run.config["nested"] == {"a": [1, 2]}
    gen0 = GenerationRecord(
        0, ("a", "b"), (_ind("a"), _ind("b", acc=None, status="failed", error="boom")), 2.5
    )
    twice = ({"seed": 7, "acc": 0.85}, {"seed": 8, "acc": 0.95})
    gen1 = GenerationRecord(
        1,
        ("a", "c"),
        (
            _ind("c", acc=0.9, rung_acc=0.7, evaluations=twice),
            _ind("a", status="cached"),
            _ind("d", acc=0.3, status="pruned", rung_acc=0.3, pruned_at=2, error="pruned"),
            _ind("e", acc=None, silhouette=0.2),
        ),
        1.0,
    )
    storage.record_generation(run.id, gen0)
    storage.record_generation(run.id, gen1)
    assert storage.load_generations(run.id) == [gen0, gen1]
    assert storage.load_generations(run.id)[0].individuals[1].error == "boom"


def test_runs_are_found_by_name_or_id_and_statuses_stamp_times(storage):
    a = storage.create_run("alpha", {}, 0)
    storage.create_run("beta", {}, 1)
    assert storage.get_run("alpha").id == a.id
    assert storage.get_run(str(a.id)).name == "alpha"
    assert [r.name for r in storage.list_runs()] == ["alpha", "beta"]
    storage.update_run(a.id, "finished")
    done = storage.get_run(a.id)
    assert done.status == "finished" and done.finished_at is not None


def test_duplicate_name_is_a_clear_error(storage):
    storage.create_run("same", {}, 0)
    with pytest.raises(StorageError, match="already exists.*--name"):
        storage.create_run("same", {}, 0)


def test_unknown_run_says_how_to_list_runs(storage):
    with pytest.raises(RunNotFoundError, match="nas runs"):
        storage.get_run("nope")


def test_a_generation_is_stored_whole_or_not_at_all(storage):
    run = storage.create_run("r", {}, 0)
    storage.record_generation(run.id, GenerationRecord(0, ("a",), (_ind("a"),)))
    with pytest.raises(StorageError):  # the same index again violates the unique constraint
        storage.record_generation(run.id, GenerationRecord(0, ("b",), (_ind("b"), _ind("c"))))
    gens = storage.load_generations(run.id)
    assert len(gens) == 1 and [i.hash for i in gens[0].individuals] == ["a"]


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    s = SQLStorage(str(tmp_path / "w.db"))
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    s.close()


def test_a_file_that_is_not_a_database_is_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 10)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not an SQLite database.*left untouched"):
        SQLStorage(str(path))
    assert path.read_bytes() == before


def test_an_incompatible_schema_version_is_refused(tmp_path):
    path = tmp_path / "old.db"
    SQLStorage(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE evonas_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StorageError, match=f"schema version 999.*reads version {SCHEMA_VERSION}"):
        SQLStorage(str(path))


def test_a_version_1_database_is_upgraded_in_place_and_keeps_its_runs(tmp_path):
    path = tmp_path / "v1.db"
    with SQLStorage(str(path)) as s:
        run = s.create_run("old", {"population": 2}, 0)
        s.record_generation(run.id, GenerationRecord(0, ("a",), (_ind("a"),), 1.0))
    with sqlite3.connect(path) as conn:  # what version 1 looked like
        for column in ("silhouette", "rung_acc", "pruned_at", "evaluations"):
            conn.execute(f"ALTER TABLE individuals DROP COLUMN {column}")
        conn.execute("UPDATE evonas_meta SET value = '1' WHERE key = 'schema_version'")
    with SQLStorage(str(path)) as s:
        (gen,) = s.load_generations("old")
        assert gen.individuals[0].acc == 0.5 and gen.individuals[0].rung_acc is None
        s.record_generation(run.id, GenerationRecord(1, ("b",), (_ind("b", rung_acc=0.4),), 1.0))
        assert s.load_generations("old")[1].individuals[0].rung_acc == 0.4
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM evonas_meta").fetchone() == (str(SCHEMA_VERSION),)


def test_a_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StorageError, match="not evonas's"):
        SQLStorage(str(path))


def test_reading_a_missing_database_does_not_create_it(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="No database"):
        SQLStorage(str(path), create=False)
    assert not path.exists()


def test_any_sqlalchemy_url_works(tmp_path):
    s = SQLStorage(f"sqlite:///{tmp_path / 'u.db'}")
    assert s.create_run("x", {}, 0).name == "x"
    s.close()
    mem = SQLStorage("sqlite:///:memory:")
    assert mem.list_runs() == []


def test_the_journal_keeps_finished_evaluations_until_the_generation_is_stored(storage):
    run = storage.create_run("j", {}, 0)
    storage.journal_evaluation(run.id, 0, "a", '{"x": 1}')
    storage.journal_evaluation(run.id, 0, "a", '{"x": 2}')  # idempotent: the first one stays
    storage.journal_evaluation(run.id, 1, "b", '{"y": 1}')
    assert storage.load_journal(run.id, 0) == {"a": '{"x": 1}'}
    storage.record_generation(run.id, GenerationRecord(0, ("a",), (_ind("a"),)))
    assert storage.load_journal(run.id, 0) == {}
    assert storage.load_journal(run.id, 1) == {"b": '{"y": 1}'}


def test_find_evaluations_skips_cached_copies_pruned_ones_and_infrastructure_failures(storage):
    a = storage.create_run("a", {}, 0, eval_key="k1")
    b = storage.create_run("b", {}, 0, eval_key="k2")
    storage.record_generation(
        a.id,
        GenerationRecord(
            0,
            ("h1",),
            (
                _ind("h1"),
                _ind("h2", status="cached"),
                _ind("h3", acc=None, status="failed", error="infrastructure: worker died"),
                _ind("h4", acc=None, status="failed", error="gate: no learning"),
                _ind("h6", status="pruned", pruned_at=1),  # pruned against that run's parents
            ),
        ),
    )
    storage.record_generation(b.id, GenerationRecord(0, ("h5",), (_ind("h5"),)))
    found = storage.find_evaluations("k1", ["h1", "h2", "h3", "h4", "h5", "h6"])
    assert set(found) == {"h1", "h4"}
    assert found["h4"].error == "gate: no learning"
