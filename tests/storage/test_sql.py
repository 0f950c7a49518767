"""The storage contract on real SQLite and a real PostgreSQL server, through SQLAlchemy."""

import sqlite3

import pytest

from evonas.errors import RunNotFoundError, StorageError
from evonas.metrics import Metrics
from evonas.storage import GenerationRecord, IndividualRecord, SQLStorage
from evonas.storage.sql import RunRow


def _ind(h: str, acc: float | None = 0.5, status: str = "ok", silhouette: float | None = None, **kw):
    metrics = Metrics(
        acc=acc, nmi=0.4 if acc else None, ari=0.3 if acc else None, recon_loss=0.01, baseline_loss=0.07,
        params=1234, silhouette=silhouette,
    )  # fmt: skip
    return IndividualRecord(
        hash=h, genome='{"genes":[]}', parents=("p1", "p2"), operator="crossover", status=status,
        seed=7, metrics=metrics, seconds=1.5, node="n1", device="cpu", **kw,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    """The same contract on both backends (PostgreSQL: a fresh database on the session's server)."""
    url = str(tmp_path / "runs.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = SQLStorage(url)
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
            _ind(
                "c", acc=0.9, rung_acc=0.7, rung_scores={2: 0.6, 4: 0.7}, evaluations=twice, head_seconds=0.25
            ),
            _ind("a", status="cached"),
            _ind(
                "d", acc=0.3, status="pruned", rung_acc=0.3, rung_scores={2: 0.3}, pruned_at=2, error="pruned"
            ),
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


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_database_is_refused_because_it_would_lose_every_result(url):
    with pytest.raises(StorageError, match="in-memory one would lose them"):
        SQLStorage(url)


def test_a_folder_or_an_empty_db_is_refused(tmp_path):
    with pytest.raises(StorageError, match="is a folder"):
        SQLStorage(str(tmp_path))
    with pytest.raises(StorageError, match="--db is empty"):
        SQLStorage("")


def test_a_foreign_sqlite_file_is_left_byte_identical(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not evonas's.*left untouched"):
        SQLStorage(str(path))
    assert path.read_bytes() == before  # not switched to WAL, nothing added
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_ids_and_names_are_looked_up_apart(storage):
    two = storage.create_run("first", {}, 0)
    legacy = storage.create_run("placeholder", {}, 0)
    with storage._transaction(write=True) as s:  # a name stored before integer names were refused
        s.get(RunRow, legacy.id).name = str(two.id)
    assert storage.get_run(str(two.id)).id == legacy.id  # a user's key: the name first
    assert storage.get_run(two.id).id == two.id  # an int is always an id
    storage.update_run(two.id, "finished")  # the storage's own updates go by id only
    assert storage.get_run(two.id).status == "finished"
    assert storage.get_run(legacy.id).status == "running"
    with pytest.raises(RunNotFoundError):
        storage.get_run("nope")


def test_runs_have_unique_identities_and_heartbeats(storage):
    a, b = storage.create_run("a", {}, 0), storage.create_run("b", {}, 0)
    assert len(a.uid) == 32 and a.uid != b.uid and a.heartbeat_at is not None
    before = storage.get_run(a.id).heartbeat_at
    storage.heartbeat(a.id)
    assert storage.get_run(a.id).heartbeat_at >= before
    storage.update_run(a.id, "interrupted")
    assert storage.get_run(a.id).heartbeat_at is None


def test_what_a_run_knows_of_its_data_is_stored(storage):
    run = storage.create_run("s", {}, 0, input_shape=(1, 8, 8), data_fingerprint="f" * 32)
    again = storage.get_run("s")
    assert again.input_shape == (1, 8, 8) and again.data_fingerprint == "f" * 32 and again.uid == run.uid


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


def test_a_password_is_never_shown(postgres):
    url = postgres.url("nowhere", password="s3cret-pw")
    with pytest.raises(StorageError) as err:
        SQLStorage(url, create=False)
    assert "s3cret-pw" not in str(err.value) and "***" in str(err.value)


def test_a_missing_driver_names_what_to_install():
    with pytest.raises(StorageError, match=r"pip install 'evonas\[postgres\]'"):
        SQLStorage("postgresql+pg8000://u@127.0.0.1:1/x")  # pg8000: a driver not installed
